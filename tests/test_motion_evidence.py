"""Further motion evidence of issue #32 (mcnn/motion/evidence.py): the camera's motion taken out
of the flow, and flow over a frame gap for slow objects."""

import cv2
import numpy as np
import pytest

from mcnn import config
from mcnn.motion.evidence import camera_flow, compensate, gap_pairs
from mcnn.motion.fst import segment_shot


def homography_field(matrix: np.ndarray, h: int, w: int) -> np.ndarray:
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    points = np.stack([xs, ys, np.ones_like(xs)], -1) @ matrix.T
    return np.stack(
        [points[..., 0] / points[..., 2] - xs, points[..., 1] / points[..., 2] - ys], -1
    )


def test_the_camera_motion_of_a_homography_is_taken_out_and_an_object_on_it_stays():
    h, w = 90, 160
    matrix = np.array([[1.03, 0.01, 2.0], [-0.01, 1.02, -1.5], [1e-5, 2e-5, 1.0]])
    flow = homography_field(matrix, h, w).astype(np.float32)
    assert np.abs(camera_flow(flow) - flow).max() < 0.01
    moving = flow.copy()
    moving[30:60, 50:90] += (3.0, -2.0)  # an object moving across the scene
    residual = compensate(moving, "homography")
    np.testing.assert_allclose(residual[30:60, 50:90].mean((0, 1)), (3.0, -2.0), atol=0.05)
    outside = np.ones((h, w), bool)
    outside[30:60, 50:90] = False
    assert np.abs(residual[outside]).max() < 0.05
    assert compensate(moving, "none") is moving


def test_a_flow_no_homography_fits_is_left_as_it_is():
    flow = np.zeros((4, 4, 2), np.float32)  # too few samples for the fit
    assert camera_flow(flow) is None
    assert compensate(flow, "homography") is flow


def test_gap_pairs_look_ahead_then_back_and_stay_in_short_shots():
    assert gap_pairs(6, 3) == [(0, 3), (1, 4), (2, 5), (3, 0), (4, 1), (5, 2)]
    assert gap_pairs(2, 3) == [(0, 1), (1, 0)]
    assert gap_pairs(3, 1) == [(0, 1), (1, 2), (2, 1)]


def slow_object_clip(n_frames=10, h=96, w=128, speed=0.5, seed=1):
    """A textured square creeping `speed` px per frame over a static textured background."""
    rng = np.random.default_rng(seed)
    background = cv2.GaussianBlur((rng.random((h, w, 3)) * 120 + 60).astype(np.uint8), (0, 0), 1.5)
    texture = cv2.GaussianBlur((rng.random((32, 32, 3)) * 120 + 60).astype(np.uint8), (0, 0), 1.5)
    frames, masks = [], []
    for t in range(n_frames):
        x = 40 + speed * t
        shift = np.float32([[1, 0, x], [0, 1, 32]])
        obj = cv2.warpAffine(texture, shift, (w, h), flags=cv2.INTER_LINEAR)
        inside = cv2.warpAffine(np.ones((32, 32), np.uint8), shift, (w, h)) > 0
        frame = background.copy()
        frame[inside] = obj[inside]
        frames.append(frame)
        masks.append(inside)
    return frames, np.stack(masks)


@pytest.mark.parametrize("gap", [1, 3])
def test_flow_over_a_gap_finds_a_creeping_object_consecutive_flow_misses(gap):
    frames, truth = slow_object_clip()  # 0.5 px between frames: no motion boundary
    cfg = config.validate({"motion": {"alternative_flows": [], "fst": {"gap_flow": gap}}})
    seg = segment_shot(frames, cfg["motion"], seed=0, keep_stages=True)
    inside = seg.stages.inside
    recall = (inside & truth).sum() / truth.sum()
    precision = (inside & truth).sum() / max(inside.sum(), 1)
    iou = (seg.masks & truth).sum() / (seg.masks | truth).sum()
    if gap == 1:
        assert recall < 0.1 and iou < 0.1
    else:
        assert recall > 0.5 and precision > 0.9 and iou > 0.7
