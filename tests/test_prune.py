"""Shot pruning on hand-made foreground-fraction sequences and on motion files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mcnn import cli
from mcnn.config import validate
from mcnn.motion.store import ShotMotion, write_video_motion
from mcnn.shots.prune import foreground_fractions, longest_run, prune_shot

GOOD, EMPTY, FULL = 0.10, 0.0, 0.8


@pytest.fixture
def cfg() -> dict:
    return validate({})["shots"]["prune"]


def _decide(fractions, cfg, first_frame=0):
    fractions = np.asarray(fractions, dtype=float)
    return prune_shot(fractions, np.arange(first_frame, first_frame + len(fractions)), cfg)


def test_longest_run_prefers_the_longest_then_the_earliest():
    valid = np.array([1, 1, 0, 1, 1, 1, 0, 1, 1, 1], dtype=bool)
    assert longest_run(valid) == (3, 3)
    assert longest_run(np.zeros(5, dtype=bool)) == (0, 0)
    assert longest_run(np.ones(4, dtype=bool)) == (0, 4)


def test_exactly_twenty_valid_frames_are_kept(cfg):
    row = _decide([GOOD] * 20, cfg, first_frame=100)
    assert (row["status"], row["reason"]) == ("kept", "ok")
    assert (row["run_start"], row["run_end"], row["run_length"]) == (100, 119, 20)


def test_nineteen_frames_make_a_too_short_shot(cfg):
    row = _decide([GOOD] * 19, cfg)
    assert (row["status"], row["reason"], row["num_frames"]) == ("dropped", "too_short", 19)


def test_run_of_nineteen_in_a_long_shot_is_not_enough(cfg):
    row = _decide([EMPTY] * 5 + [GOOD] * 19 + [FULL] * 6, cfg)
    assert (row["status"], row["reason"], row["run_length"]) == ("dropped", "no_valid_run", 19)


def test_longest_of_several_runs_is_kept(cfg):
    # Motion fails in the middle of the shot and recovers: runs of 20 and 25 valid frames.
    fractions = [GOOD] * 20 + [EMPTY] * 3 + [GOOD] * 25 + [FULL] * 2
    row = _decide(fractions, cfg, first_frame=1)
    assert row["status"] == "kept"
    assert (row["run_start"], row["run_end"], row["run_length"]) == (24, 48, 25)


def test_equal_runs_keep_the_earliest(cfg):
    row = _decide([GOOD] * 22 + [FULL] + [GOOD] * 22, cfg)
    assert (row["run_start"], row["run_end"], row["run_length"]) == (0, 21, 22)


def test_fraction_bounds_are_inclusive_and_settings(cfg):
    row = _decide([0.025] * 10 + [0.5] * 10, cfg)
    assert row["status"] == "kept"
    row = _decide([0.0249] + [0.025] * 19 + [0.5001], cfg)
    assert (row["reason"], row["run_start"], row["run_length"]) == ("no_valid_run", 1, 19)
    relaxed = {**cfg, "min_run_frames": 5, "min_shot_frames": 5, "max_fg_fraction": 0.9}
    row = _decide([FULL] * 6, relaxed)
    assert (row["status"], row["run_length"]) == ("kept", 6)


def test_no_valid_frame_leaves_the_run_empty(cfg):
    row = _decide([EMPTY] * 30, cfg)
    assert (row["reason"], row["run_start"], row["run_length"]) == ("no_valid_run", None, 0)
    assert row["mean_fg_fraction"] == 0.0


def test_foreground_fractions_of_masks():
    masks = np.zeros((2, 4, 5), dtype=np.uint8)
    masks[0, :2, :] = 1  # 10 of 20 pixels
    masks[1, 0, 0] = 1
    np.testing.assert_allclose(foreground_fractions(masks), [0.5, 0.05])


def _shot(shot_id, fractions, first=0, size=(10, 20)):
    """A shot whose masks have exactly the given foreground fractions (multiples of 1/200)."""
    h, w = size
    masks = np.zeros((len(fractions), h * w), dtype=np.uint8)
    counts = np.round(np.asarray(fractions) * h * w).astype(int)
    masks[np.arange(h * w) < counts[:, None]] = 1
    return ShotMotion(
        shot_id=shot_id,
        status="ok",
        reason="",
        frame_numbers=np.arange(first, first + len(fractions)),
        masks=masks.reshape(-1, h, w),
        boundary=np.zeros((len(fractions), h, w), dtype=np.uint8),
        scale=0.5,
    )


def test_prune_step_writes_a_row_per_shot(tmp_path, cfg):
    motion = tmp_path / "motion" / "demo"
    write_video_motion(
        motion / "a.h5",
        "a",
        [_shot("a_s000", [0.1] * 30, first=5), ShotMotion.failed("a_s001", "no flow")],
        {},
    )
    write_video_motion(motion / "b.h5", "b", [_shot("b_s000", [0.1] * 12)], {})
    output = tmp_path / "pruned.csv"
    cli.main(
        ["prune-shots", "--motion", str(motion / "a.h5"), str(motion / "b.h5"),
         "--params", json.dumps(cfg), "--output", str(output)]
    )  # fmt: skip
    table = pd.read_csv(output)
    assert table["dataset"].unique().tolist() == ["demo"]
    assert table["shot_id"].tolist() == ["a_s000", "a_s001", "b_s000"]
    assert table["status"].tolist() == ["kept", "dropped", "dropped"]
    assert table["reason"].tolist() == ["ok", "motion_failed: no flow", "too_short"]
    kept = table.iloc[0]
    assert (kept["run_start"], kept["run_end"], kept["run_length"]) == (5, 34, 30)
    assert kept["mean_fg_fraction"] == pytest.approx(0.1)
    assert pd.isna(table.loc[1, "run_start"])  # a failed shot has no run
