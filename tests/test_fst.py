"""FST video segmentation on synthetic clips with known masks, and the motion-segment step."""

import cv2
import numpy as np
import pandas as pd
import pytest

from mcnn import config
from mcnn.core.io import DataError
from mcnn.motion.fst import _pairwise, location_prior, segment_shot
from mcnn.motion.superpixels import (
    ShotSuperpixels,
    build_superpixels,
    pull_along_flow,
    spatial_edges,
    temporal_edges,
)


@pytest.fixture
def motion_cfg():
    return config.validate({})["motion"]


def moving_object_clip(n_frames=8, h=120, w=160, seed=0):
    """A red textured square moving 4 px/frame over a textured background that pans slowly."""
    rng = np.random.default_rng(seed)
    background = cv2.GaussianBlur(
        (rng.random((h + 40, w + 80, 3)) * 80 + 60).astype(np.uint8), (0, 0), 2
    )
    obj = (np.array([200, 60, 40]) + rng.integers(0, 30, (40, 40, 3))).astype(np.uint8)
    frames, masks = [], []
    for t in range(n_frames):
        frame = background[10 + t : 10 + t + h, 20 : 20 + w].copy()
        y, x = 40, 30 + 4 * t
        frame[y : y + 40, x : x + 40] = obj
        mask = np.zeros((h, w), bool)
        mask[y : y + 40, x : x + 40] = True
        frames.append(frame)
        masks.append(mask)
    return frames, np.stack(masks)


def test_segments_a_moving_object(motion_cfg):
    frames, truth = moving_object_clip()
    seg = segment_shot(frames, motion_cfg, seed=0)
    assert seg.masks.shape == truth.shape and seg.masks.dtype == bool
    assert seg.boundary.shape == truth.shape and seg.boundary.dtype == np.float32
    assert seg.scale == 1.0
    iou = (seg.masks & truth).sum((1, 2)) / (seg.masks | truth).sum((1, 2))
    assert iou.min() > 0.7
    # Motion-boundary pixels lie near the object's outline (DIS flow is smooth over a few
    # pixels at motion discontinuities) and there are some on every side.
    near_outline = cv2.dilate(truth[3].astype(np.uint8), np.ones((13, 13))) > cv2.erode(
        truth[3].astype(np.uint8), np.ones((13, 13))
    )
    rows, cols = np.nonzero(seg.boundary[3] > 0.5)
    assert near_outline[rows, cols].mean() > 0.95
    assert rows.min() < 45 and rows.max() > 75 and cols.min() < 47 and cols.max() > 80
    again = segment_shot(frames, motion_cfg, seed=0)
    np.testing.assert_array_equal(seg.masks, again.masks)


def test_large_frames_are_shrunk_to_max_side(motion_cfg):
    frames, truth = moving_object_clip(n_frames=3)
    motion_cfg["flow"]["max_side"] = 80
    seg = segment_shot(frames, motion_cfg, seed=0)
    assert seg.masks.shape == (3, 60, 80) and seg.scale == 0.5


def test_too_few_frames_or_mixed_sizes_raise_data_error(motion_cfg):
    frames, _ = moving_object_clip(n_frames=2)
    with pytest.raises(DataError, match="shot7.*at least 2"):
        segment_shot(frames[:1], motion_cfg, seed=0, name="shot7")
    with pytest.raises(DataError, match="one size"):
        segment_shot([frames[0], frames[1][:100]], motion_cfg, seed=0)


def test_temporal_edges_of_a_still_clip_link_each_superpixel_to_itself(motion_cfg):
    frames, _ = moving_object_clip(n_frames=1)
    sp = build_superpixels([frames[0], frames[0]], motion_cfg["fst"])
    still = np.zeros((1, *frames[0].shape[:2], 2), np.float32)
    pairs, overlap = temporal_edges(sp, still)
    n = sp.offsets[1]
    np.testing.assert_array_equal(pairs, np.stack([np.arange(n), np.arange(n) + n], 1))
    np.testing.assert_allclose(overlap, 1.0)


def test_step_records_a_failed_shot_and_goes_on(tmp_path, motion_cfg):
    store = pytest.importorskip("mcnn.motion.store")
    from mcnn.motion.video import run

    frames, truth = moving_object_clip(n_frames=4)
    for k, frame in enumerate(frames):
        cv2.imwrite(str(tmp_path / f"{k:05d}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    template = str(tmp_path / "{frame:05d}.png")
    common = dict(
        dataset="toy",
        video_id="clip",
        labels="",
        split="train",
        source="frames",
        path=template,
        mask_path="",
        mask_format="",
        width=160,
        height=120,
    )
    shots = pd.DataFrame(
        [
            dict(common, shot_id="clip_s000", first_frame=0, last_frame=3, num_frames=4),
            dict(common, shot_id="clip_s001", first_frame=3, last_frame=5, num_frames=3),
        ]
    )
    index = tmp_path / "toy.shots.csv"
    shots.to_csv(index, index=False)
    output = tmp_path / "clip.h5"
    run(index, "clip", motion_cfg, output, seed=0)
    result = store.read_video_motion(output)
    assert result["clip_s000"].status == "ok"
    np.testing.assert_array_equal(result["clip_s000"].frame_numbers, [0, 1, 2, 3])
    assert result["clip_s000"].masks.shape == truth.shape
    assert result["clip_s001"].status == "failed"
    assert "00004.png" in result["clip_s001"].reason


def grid_superpixels(n_frames=2, h=8, w=8, block=4):
    """Square superpixels of block x block pixels, numbered row by row, frame after frame."""
    per_frame = (h // block) * (w // block)
    rows, cols = np.mgrid[:h, :w]
    local = (rows // block) * (w // block) + cols // block
    labels = np.stack([local + t * per_frame for t in range(n_frames)]).astype(np.int64)
    n = n_frames * per_frame
    centre_r = np.tile(
        np.repeat(np.arange(h // block), w // block) * block + (block - 1) / 2, n_frames
    )
    centre_c = np.tile(
        np.tile(np.arange(w // block), h // block) * block + (block - 1) / 2, n_frames
    )
    return ShotSuperpixels(
        labels=labels,
        offsets=np.arange(n_frames + 1) * per_frame,
        frame=np.repeat(np.arange(n_frames), per_frame),
        size=np.full(n, float(block * block)),
        colour=np.zeros((n, 3)),
        centre=np.stack([centre_r, centre_c], 1),
    )


def test_propagation_is_a_weighted_mean_that_skips_occluded_pixels():
    sp = grid_superpixels()  # frame 0: ids 0..3, frame 1: ids 4..7, 4 x 4 px each
    values = np.array([0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0])
    flow = np.zeros((8, 8, 2), np.float32)
    flow[:4, :4, 0] = 2  # left half of superpixel 0 lands on superpixel 4 ... and 5
    flow[:4, :2, 0] = 0
    flow[:4, 2:4, 0] = 4  # columns 2-3 land on 6-7: superpixel 5
    plain = pull_along_flow(sp, values, 0, 1, flow)
    np.testing.assert_allclose(plain, [0.5, 0, 0, 0])  # columns 0-1 from id 4 (1), 2-3 from 5
    weights = np.array([1, 1, 1, 1, 1.0, 3.0, 1, 1])
    weighted = pull_along_flow(sp, values, 0, 1, flow, weights)
    np.testing.assert_allclose(weighted, [0.25, 0, 0, 0])  # (8 * 1 * 1 + 8 * 3 * 0) / 32
    valid = np.ones((8, 8), bool)
    valid[:4, 2:4] = False  # the pixels landing on id 5 are occluded there
    np.testing.assert_allclose(pull_along_flow(sp, values, 0, 1, flow, weights, valid)[0], 1.0)
    valid[:4, :4] = False
    assert pull_along_flow(sp, values, 0, 1, flow, weights, valid)[0] == 0  # nothing carried


def test_location_prior_accumulates_without_fading_and_is_shot_normalised(motion_cfg):
    cfg = motion_cfg["fst"]
    sp = grid_superpixels(n_frames=3)
    ratio = np.zeros(sp.count)
    ratio[[0, 4, 8]] = 1.0  # the top-left superpixel is inside in every frame of a still clip
    still = np.zeros((2, 8, 8, 2), np.float32)
    prior = location_prior(sp, ratio, still, still, cfg)
    # Every frame: own ratio 1 + carried 1 per earlier frame + 1 per later frame = 3, the
    # maximum, normalised by 0.75 * 3 -> above saturation -> location_max.
    np.testing.assert_allclose(prior[[0, 4, 8]], cfg["location_max"])
    others = np.delete(prior, [0, 4, 8])
    # Only 1 of the 4 superpixels is above weak_frame_level: 25 % >= 5 %, no weak-frame floor.
    np.testing.assert_allclose(others, cfg["location_min"])


def test_pairwise_contrast_follows_fst_normalisation(motion_cfg):
    cfg = motion_cfg["fst"]
    sp = grid_superpixels(n_frames=2)
    sp.colour[:] = 0
    sp.colour[[1, 5], 0] = 10.0  # superpixel 1 (and its successor 5) differ by 10 in red
    still = np.zeros((1, 8, 8, 2), np.float32)
    edges, weights = _pairwise(sp, still, cfg)
    spatial = {tuple(e): w for e, w in zip(edges[:8].tolist(), weights[:8], strict=True)}
    # Frame 0 has 4 spatial edges at centre distance 4: (0,1), (0,2), (1,3), (2,3); two carry
    # |dc|^2 = 100, so beta_s = 0.5 / mean(|dc|^2 / 4) = 0.5 / 12.5 = 0.04.
    assert spatial[(0, 2)] == pytest.approx(cfg["spatial_weight"] / 4)
    assert spatial[(0, 1)] == pytest.approx(cfg["spatial_weight"] * np.exp(-4.0) / 4)
    # Temporal edges link each superpixel to itself (overlap 1), all with |dc|^2 = 0.
    temporal = weights[len(edges) - 4 :]
    np.testing.assert_allclose(temporal, cfg["temporal_weight"])


def test_spatial_edges_are_each_frames_touching_pairs_sorted():
    rng = np.random.default_rng(3)
    frames = [rng.integers(0, 7, (9, 11)) for _ in range(3)]
    offsets = np.cumsum([0] + [7] * 3)
    labels = np.stack([f + o for f, o in zip(frames, offsets[:-1], strict=True)])
    n = int(offsets[-1])
    sp = ShotSuperpixels(
        labels, offsets, np.repeat(np.arange(3), 7), np.ones(n), np.zeros((n, 3)), np.zeros((n, 2))
    )
    expected = set()
    for lab in labels:
        for a, b in ((lab[:, :-1], lab[:, 1:]), (lab[:-1, :], lab[1:, :])):
            expected |= {
                (min(x, y), max(x, y)) for x, y in zip(a.ravel(), b.ravel(), strict=True) if x != y
            }
    assert [tuple(e) for e in spatial_edges(sp)] == sorted(expected)
    np.testing.assert_array_equal(sp.adjacent, spatial_edges(sp))
    assert sp.adjacent is sp.adjacent  # computed once per shot, shared by every flow
