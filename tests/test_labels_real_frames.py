"""M-CNN label inference on real DAVIS frames: per-frame acceptance where the batch test failed."""

import cv2
import numpy as np
from conftest import shared_dataset

from mcnn.core.io import read_gray, read_rgb
from mcnn.labels import infer_batch

SIDE = 25  # the label size of the davis config's 193 px crops (stride 8)
K = 11


def _dog_agility_batch():
    """Every 4th of the first 25 frames, squashed to SIDE; motion = ground truth dilated by 12 px
    at 321 px (a mask that bleeds into the background, as FST's often do)."""
    root = shared_dataset("davis2016")
    paths = sorted((root / "JPEGImages" / "480p" / "dog-agility").glob("*.jpg"))[:25:4]
    frames, motion, truth = [], [], []
    for path in paths:
        gt = read_gray(root / "Annotations" / "480p" / "dog-agility" / f"{path.stem}.png") > 0
        gt = cv2.resize(gt.astype(np.uint8), (321, 321), interpolation=cv2.INTER_NEAREST)
        bled = cv2.dilate(gt, np.ones((25, 25), np.uint8))
        frame = cv2.resize(read_rgb(path), (321, 321), interpolation=cv2.INTER_AREA)
        frames.append(cv2.resize(frame, (SIDE, SIDE), interpolation=cv2.INTER_AREA))
        motion.append(cv2.resize(bled, (SIDE, SIDE), interpolation=cv2.INTER_NEAREST))
        truth.append(cv2.resize(gt, (SIDE, SIDE), interpolation=cv2.INTER_NEAREST) > 0)
    return np.stack(frames), np.stack(motion), np.stack(truth)


def test_frames_search_on_where_the_batch_energy_test_fell_back(default_config):
    # With the batch-level guard (commit 884a747) the first iteration's batch energy rose on this
    # batch, so all 7 frames came back as their motion masks ('M-CNN* hard') without a word.
    frames, motion, _ = _dog_agility_batch()
    probs = np.full((len(frames), K, SIDE, SIDE), 1 / K, np.float32)  # start of training
    cfg = {**default_config["labels"], "mask_prior": 0.0}  # the paper's energy
    result = infer_batch(frames, motion, probs, [7], cfg, "mcnn", rng=np.random.default_rng(1))
    search = result.search
    assert search.fell_back.mean() < 0.5
    assert search.accepted.mean() >= 1
    moved = [not np.array_equal(result.labels[b] > 0, motion[b] > 0) for b in range(len(frames))]
    np.testing.assert_array_equal(moved, ~search.fell_back)
    # the record is the labels' own: fallen-back frames are exactly their motion masks
    for b in np.flatnonzero(search.fell_back):
        np.testing.assert_array_equal(result.labels[b] == 7, motion[b] > 0)
