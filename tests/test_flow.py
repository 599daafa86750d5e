"""Optical flow: sign conventions, forward/backward pairing, resizing."""

import cv2
import numpy as np
import pytest

from mcnn import config
from mcnn.motion.flow import (
    FlowEstimator,
    consistent_flow,
    resize_to_max_side,
    shot_flows,
    warp_coordinates,
)


def textured(shape=(120, 160), seed=0):
    rng = np.random.default_rng(seed)
    noise = rng.random((shape[0] // 4, shape[1] // 4, 3)).astype(np.float32)
    smooth = cv2.resize(noise, shape[::-1], interpolation=cv2.INTER_CUBIC)
    return np.clip(smooth * 255, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("method", ["dis", "farneback"])
def test_flow_points_where_content_moves(method):
    cfg = config.validate({"motion": {"flow": {"method": method}}})["motion"]["flow"]
    first = textured()
    second = np.roll(first, (2, 3), axis=(0, 1))  # content moves 3 px right, 2 px down
    frames = [first, second]
    forward, backward = shot_flows(frames, cfg)
    assert forward.shape == backward.shape == (1, 120, 160, 2)
    centre = (slice(20, 100), slice(20, 140))  # away from the wrapped-around border
    np.testing.assert_allclose(
        np.median(forward[0][centre].reshape(-1, 2), axis=0), [3, 2], atol=0.3
    )
    np.testing.assert_allclose(
        np.median(backward[0][centre].reshape(-1, 2), axis=0), [-3, -2], atol=0.3
    )
    # first(x, y) ~ second(x + dx, y + dy)
    rows, cols = warp_coordinates(forward[0])
    diff = np.abs(first[centre].astype(int) - second[rows, cols][centre].astype(int))
    assert diff.mean() < 6


def test_resize_to_max_side_shrinks_only():
    assert resize_to_max_side(np.zeros((480, 854, 3), np.uint8), 400).shape == (225, 400, 3)
    assert resize_to_max_side(np.zeros((854, 480, 3), np.uint8), 400).shape == (400, 225, 3)
    assert resize_to_max_side(np.zeros((100, 120, 3), np.uint8), 400).shape == (100, 120, 3)


def test_warp_coordinates_clip_to_the_image():
    flow = np.zeros((4, 5, 2), np.float32)
    flow[..., 0] = 10.0
    flow[..., 1] = -0.6
    rows, cols = warp_coordinates(flow)
    assert np.all(cols == 4)
    np.testing.assert_array_equal(rows[:, 0], [0, 0, 1, 2])


def test_estimator_uses_the_preset():
    cfg = config.validate({})["motion"]["flow"]
    frame = textured()
    flow = FlowEstimator(cfg)(frame, frame)
    assert flow.dtype == np.float32 and np.abs(flow).max() < 0.05


def test_forward_backward_check_marks_the_background_a_moving_square_covers():
    # A 10 x 10 square moves 4 px right over a still background. Forward flow: 4 on the square.
    # Backward flow (second frame -> first): -4 where the square is in the second frame.
    forward = np.zeros((40, 40, 2), np.float32)
    backward = np.zeros((40, 40, 2), np.float32)
    forward[10:20, 10:20, 0] = 4
    backward[10:20, 14:24, 0] = -4
    ok = consistent_flow(forward, backward, relative=0.01, absolute=0.5)
    covered = np.zeros((40, 40), bool)
    covered[10:20, 20:24] = True  # background that the square lands on: occluded
    np.testing.assert_array_equal(ok, ~covered)
    # The other way round, the strip the square uncovers has no counterpart in the first frame.
    back_ok = consistent_flow(backward, forward, relative=0.01, absolute=0.5)
    uncovered = np.zeros((40, 40), bool)
    uncovered[10:20, 10:14] = True
    np.testing.assert_array_equal(back_ok, ~uncovered)


def test_dis_finest_scale_overrides_the_preset_and_still_tracks_motion():
    preset = config.validate({})["motion"]["flow"]
    fine = config.validate({"motion": {"flow": {"dis_finest_scale": 0}}})["motion"]["flow"]
    assert FlowEstimator(preset)._dense.getFinestScale() == 1  # medium's own
    assert FlowEstimator(fine)._dense.getFinestScale() == 0
    first = textured()
    second = np.roll(first, (2, 3), axis=(0, 1))
    flow = FlowEstimator(fine)(first, second)
    np.testing.assert_allclose(
        np.median(flow[20:100, 20:140].reshape(-1, 2), axis=0), [3, 2], atol=0.3
    )


def test_warp_and_forward_backward_check_equal_their_plain_formulas():
    # The fast forms (broadcast ranges, per-component sums) must not move a single pixel.
    rng = np.random.default_rng(3)
    for spread in (0.3, 3.0, 30.0):
        flow = (rng.standard_normal((45, 80, 2)) * spread).astype(np.float32)
        back = (rng.standard_normal((45, 80, 2)) * spread).astype(np.float32)
        rows, cols = np.mgrid[0:45, 0:80]
        want_rows = np.clip(np.rint(rows + flow[..., 1]), 0, 44).astype(np.intp)
        want_cols = np.clip(np.rint(cols + flow[..., 0]), 0, 79).astype(np.intp)
        got_rows, got_cols = warp_coordinates(flow)
        np.testing.assert_array_equal(got_rows, want_rows)
        np.testing.assert_array_equal(got_cols, want_cols)
        returned = back[want_rows, want_cols]
        error = ((flow + returned) ** 2).sum(-1)
        scale = (flow**2).sum(-1) + (returned**2).sum(-1)
        np.testing.assert_array_equal(
            consistent_flow(flow, back, 0.05, 2.0), error <= 0.05 * scale + 2.0
        )
