"""`motion.method: external`: precomputed masks instead of FST, and the demo DAG run on them."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import yaml
from tiny_workflow import RESULTS, TINY_CONFIG, new_run_folder, snakemake

from mcnn import config
from mcnn.core.io import DataError
from mcnn.motion import video as motion_video
from mcnn.motion.external import check_pattern, external_shot
from mcnn.motion.store import read_video_motion


def _row(video_id="clip", first=3, last=6, width=64, height=48):
    return {
        "video_id": video_id,
        "shot_id": f"{video_id}_s000",
        "first_frame": first,
        "last_frame": last,
        "width": width,
        "height": height,
    }


def _settings(root, max_side=32):
    return config.validate(
        {
            "motion": {
                "method": "external",
                "external": {"root": str(root)},
                "flow": {"max_side": max_side},
            }
        }
    )["motion"]


def _write_masks(folder: Path, numbers, width=64, height=48, value=255):
    folder.mkdir(parents=True, exist_ok=True)
    for n in numbers:
        mask = np.zeros((height, width), np.uint8)
        mask[10:30, 8 + n : 40 + n] = value
        cv2.imwrite(str(folder / f"{n:05d}.png"), mask)


@pytest.mark.parametrize("value", [1, 255])
def test_reads_the_shot_frames_shrunk_like_fst(tmp_path, value):
    _write_masks(tmp_path / "clip", range(0, 10), value=value)
    shot = external_shot(_row(), _settings(tmp_path))
    assert shot.status == "ok" and shot.frame_numbers.tolist() == [3, 4, 5, 6]
    assert shot.masks.shape == (4, 24, 32) and shot.masks.dtype == np.uint8
    assert shot.scale == 0.5 and not shot.boundary.any()
    # Frame 3's rectangle (rows 10..29, columns 11..42) at half size: half-covered edge
    # pixels (127.5 after area averaging) round to 128 and count.
    assert shot.masks[0, 5:15, 6:21].all() and shot.masks[0].sum() == 10 * 17


def test_video_without_a_folder_is_a_failed_shot(tmp_path):
    shot = external_shot(_row("other"), _settings(tmp_path))
    assert shot.status == "failed" and str(tmp_path / "other") in shot.reason


def test_missing_and_mis_sized_files_name_the_file(tmp_path):
    _write_masks(tmp_path / "clip", [3, 4, 6])
    with pytest.raises(DataError, match=r"clip/00005\.png.*does not exist"):
        external_shot(_row(), _settings(tmp_path))
    _write_masks(tmp_path / "clip", [5], width=60)
    with pytest.raises(DataError, match=r"clip/00005\.png.*60x48, the frame 64x48"):
        external_shot(_row(), _settings(tmp_path))


def test_pattern_must_take_the_frame_number():
    check_pattern("frame_{frame}.png")
    for bad in ("mask.png", "{index:05d}.png"):
        with pytest.raises(DataError, match="motion.external.pattern"):
            check_pattern(bad)


def test_video_step_writes_ok_and_failed_shots(tmp_path):
    _write_masks(tmp_path / "masks" / "clip", range(0, 10))
    index = tmp_path / "shots.csv"
    pd.DataFrame([_row(), _row(first=7, last=9) | {"shot_id": "clip_s001"}]).to_csv(
        index, index=False
    )
    motion_video.run(index, "clip", _settings(tmp_path / "masks"), tmp_path / "clip.h5", seed=0)
    shots = read_video_motion(tmp_path / "clip.h5")
    assert [s.status for s in shots.values()] == ["ok", "ok"]
    assert shots["clip_s001"].frame_numbers.tolist() == [7, 8, 9]


def test_demo_dag_runs_end_to_end_on_external_masks(tmp_path):
    """The demo DAG (pruning, sampling, soft labels, training, evaluation) on external masks:
    the demo videos' masks are written from a moving rectangle; one video has no mask folder
    and goes through as a failed shot. One variant, M-CNN*, whose training infers the labels
    from the masks (the local tiny run covers every variant on FST's masks)."""
    masks = tmp_path / "masks"
    work = new_run_folder(tmp_path, "run")
    cfg = yaml.safe_load(TINY_CONFIG.read_text())
    cfg["motion"] = {"method": "external", "external": {"root": str(masks)}}
    cfg["experiments"] = {"variants": ["mcnn_star"]}
    (work / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    snakemake(work, "--cores", "2", f"{RESULTS}/index/demo_videos.shots.csv")
    shots = pd.read_csv(work / RESULTS / "index/demo_videos.shots.csv", keep_default_na=False)
    videos = sorted(shots["video_id"].unique())
    skipped = videos[0]
    for row in shots[shots["video_id"] != skipped].to_dict("records"):
        folder = masks / row["video_id"]
        folder.mkdir(parents=True, exist_ok=True)
        height, width = row["height"], row["width"]
        for n in range(row["first_frame"], row["last_frame"] + 1):
            mask = np.zeros((height, width), np.uint8)
            x = width // 8 + (n - row["first_frame"])
            mask[height // 4 : 3 * height // 4, x : x + width // 2] = 255
            cv2.imwrite(str(folder / f"{n:05d}.png"), mask)
    snakemake(work, "--cores", "2")
    failed = read_video_motion(work / RESULTS / f"motion/demo_videos/{skipped}.h5")
    assert {s.status for s in failed.values()} == {"failed"}
    assert all("no external mask folder" in s.reason for s in failed.values())
    pruned = pd.read_csv(work / RESULTS / "shots/demo_videos.pruned.csv", keep_default_na=False)
    assert (pruned["video_id"] == skipped).any()
    assert (work / RESULTS / "tables").is_dir() and any((work / RESULTS / "tables").iterdir())
