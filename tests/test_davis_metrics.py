"""DAVIS J/F on hand-computed cases, and the evaluate-motion step on toy and real data."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pandas as pd
import pytest
from conftest import real_davis_shots

from mcnn import cli
from mcnn.datasets import SHOT_COLUMNS
from mcnn.datasets.frames import read_mask
from mcnn.metrics.davis import (
    boundary_f_measure,
    evaluate_sequence,
    region_similarity,
    seg2bmap,
    summarize,
)
from mcnn.motion.store import ShotMotion, write_video_motion


def _square(top, left, size=10, shape=(100, 100)):
    mask = np.zeros(shape, dtype=np.uint8)
    mask[top : top + size, left : left + size] = 1
    return mask


def test_seg2bmap_marks_one_side_of_each_edge():
    # Left and top edges fall on the outside pixels, right and bottom on the inside ones:
    # the outline of rows 19..29, cols 19..29 of a square covering rows/cols 20..29.
    bmap = seg2bmap(_square(20, 20))
    expected = np.zeros_like(bmap)
    expected[19:30, 19:30] = True
    expected[20:29, 20:29] = False
    np.testing.assert_array_equal(bmap, expected)
    assert not seg2bmap(np.ones((5, 5))).any()


def test_shifted_squares():
    gt = _square(20, 20)
    # 100 x 100 image: tolerance ceil(0.008 * 141.4) = 2 pixels.
    assert region_similarity(_square(20, 22), gt) == pytest.approx(80 / 120)
    assert boundary_f_measure(_square(20, 22), gt) == 1.0  # every edge within 2 pixels
    # Shifted by 3: of the 40 outline pixels, 10 + 10 on the top and bottom rows and 4 near the
    # corners of the near side are within 2 pixels of the other outline; precision = recall = 0.6.
    assert region_similarity(_square(20, 23), gt) == pytest.approx(70 / 130)
    assert boundary_f_measure(_square(20, 23), gt) == pytest.approx(0.6)
    assert region_similarity(_square(60, 60), gt) == 0.0
    assert boundary_f_measure(_square(60, 60), gt) == 0.0


def test_empty_masks():
    empty = np.zeros((100, 100), dtype=np.uint8)
    assert region_similarity(empty, empty) == 1.0
    assert boundary_f_measure(empty, empty) == 1.0
    assert region_similarity(empty, _square(20, 20)) == 0.0
    assert boundary_f_measure(empty, _square(20, 20)) == 0.0
    assert boundary_f_measure(_square(20, 20), empty) == 0.0


def test_summary_of_a_made_up_sequence():
    # Quarters of 9 values (np.array_split): [1, 1, .8] [.8, .6] [.6, .2] [.2, .1].
    values = [1.0, 1.0, 0.8, 0.8, 0.6, 0.6, 0.2, 0.2, 0.1]
    stats = summarize(values)
    assert stats["mean"] == pytest.approx(5.3 / 9)
    assert stats["recall"] == pytest.approx(6 / 9)
    assert stats["decay"] == pytest.approx(2.8 / 3 - 0.15)
    assert summarize([0.5, 0.5, 0.5])["recall"] == 0.0  # strictly above 0.5
    assert np.isnan(summarize([0.9, 0.9, 0.9])["decay"])  # fewer frames than quarters


def test_evaluate_sequence_combines_both_measures():
    gts = [_square(20, 20)] * 4
    preds = [_square(20, 20), _square(20, 22), _square(20, 23), np.zeros((100, 100), np.uint8)]
    scores = evaluate_sequence(preds, gts)
    j = [1.0, 80 / 120, 70 / 130, 0.0]
    assert scores["J_mean"] == pytest.approx(np.mean(j))
    assert scores["J_recall"] == pytest.approx(0.75)
    assert scores["J_decay"] == pytest.approx(1.0)
    assert scores["F_mean"] == pytest.approx((1 + 1 + 0.6 + 0) / 4)


def _toy_dataset(tmp_path, num=10):
    """One shot of `num` 40 x 40 frames with a square ground truth in every frame (0/255 PNG)."""
    masks_dir = tmp_path / "masks"
    masks_dir.mkdir()
    gt = _square(10, 10, size=16, shape=(40, 40))
    for n in range(num):
        cv2.imwrite(str(masks_dir / f"{n:05d}.png"), gt * 255)
    shot = {
        "dataset": "toy", "video_id": "vid", "shot_id": "vid_s000", "labels": "cat",
        "split": "train", "source": "frames", "path": str(tmp_path / "{frame:05d}.jpg"),
        "mask_path": str(masks_dir / "{frame:05d}.png"), "mask_format": "binary",
        "first_frame": 0, "last_frame": num - 1, "num_frames": num, "width": 40, "height": 40,
    }  # fmt: skip
    index = tmp_path / "toy.shots.csv"
    pd.DataFrame([shot], columns=list(SHOT_COLUMNS)).to_csv(index, index=False)
    return index, gt[::2, ::2]  # the motion masks are at half resolution


def _evaluate(tmp_path, index, motion_paths):
    output = tmp_path / "eval" / "toy.csv"
    cli.main(["evaluate-motion", "--index", str(index), "--motion", *map(str, motion_paths),
              "--output", str(output)])  # fmt: skip
    return pd.read_csv(output), json.loads(output.with_suffix(".json").read_text())


def test_evaluate_motion_leaves_out_first_and_last_frames(tmp_path):
    index, small = _toy_dataset(tmp_path)
    masks = np.repeat(small[None], 10, axis=0)
    masks[[0, 9]] = 0  # wrong, but the first and last frames are not evaluated
    masks[5] = 0  # one wrong frame among the 8 evaluated
    motion = ShotMotion("vid_s000", "ok", "", np.arange(10), masks, np.zeros_like(masks), 0.5)
    path = tmp_path / "motion" / "vid.h5"
    write_video_motion(path, "vid", [motion], {})
    table, summary = _evaluate(tmp_path, index, [path])
    row = table.iloc[0]
    assert (row["shot_id"], row["frames"], row["frames_without_motion"]) == ("vid_s000", 8, 0)
    assert row["J_mean"] == pytest.approx(7 / 8)  # nearest upsampling restores the square
    assert row["F_mean"] == pytest.approx(7 / 8)
    assert row["J_recall"] == pytest.approx(7 / 8)
    # Quarters of the 8 inner frames 1..8: frame 5 falls in the third; first and last are 1.
    assert row["J_decay"] == pytest.approx(0.0)
    assert summary["sequences"] == 1 and summary["J_mean"] == pytest.approx(7 / 8)


def test_failed_shot_scores_as_empty_prediction(tmp_path):
    index, _ = _toy_dataset(tmp_path)
    path = tmp_path / "motion" / "vid.h5"
    write_video_motion(path, "vid", [ShotMotion.failed("vid_s000", "no flow")], {})
    table, summary = _evaluate(tmp_path, index, [path])
    row = table.iloc[0]
    assert (row["motion_status"], row["frames_without_motion"]) == ("failed", 8)
    assert row["J_mean"] == 0.0 and row["F_mean"] == 0.0
    assert summary["failed_shots"] == 1


def test_real_davis_ground_truth_as_motion_scores_one(tmp_path):
    shots, index = real_davis_shots(tmp_path, "dog-agility")
    shot = shots.iloc[0]
    numbers = np.arange(shot["first_frame"], shot["last_frame"] + 1)
    masks = np.stack([read_mask(shot, n) for n in numbers])
    motion = ShotMotion(shot["shot_id"], "ok", "", numbers, masks, np.zeros_like(masks), 1.0)
    path = tmp_path / "motion" / "dog-agility.h5"
    write_video_motion(path, "dog-agility", [motion], {})
    table, summary = _evaluate(tmp_path, index, [path])
    assert table["frames"].tolist() == [len(numbers) - 2]
    assert summary["J_mean"] == 1.0 and summary["F_mean"] == 1.0
    assert summary["J_decay"] == 0.0
