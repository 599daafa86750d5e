"""Sampling of training frames: a fixed number of evenly spaced frames from each kept run.

The frames are re-read from the dataset in their original format and resized to the motion
masks' size, so that frames, masks and boundary maps of a sample share one pixel grid.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from tqdm import tqdm

from mcnn.core.io import DataError
from mcnn.datasets import read_shots
from mcnn.datasets.frames import read_frames, read_mask
from mcnn.motion.store import read_shot_frame_numbers, read_shot_motion
from mcnn.shots.prune import read_pruned
from mcnn.shots.samples import ShotSample, write_samples

log = logging.getLogger(__name__)


def sample_positions(run_length: int, num_frames: int) -> np.ndarray:
    """`num_frames` evenly spaced positions in 0..run_length-1, both ends included.

    Positions are distinct whenever run_length >= num_frames (consecutive values of the
    linspace differ by at least 1, and rounding is monotone).
    """
    if run_length < num_frames:
        raise ValueError(f"cannot sample {num_frames} distinct frames from a run of {run_length}")
    return np.round(np.linspace(0, run_length - 1, num_frames)).astype(np.int64)


def sample_shot(shot: pd.Series, kept: pd.Series, motion_path: Path, num_frames: int) -> ShotSample:
    """Sample one kept shot: `shot` is its index row, `kept` its pruning-table row."""
    numbers = read_shot_frame_numbers(motion_path, shot["shot_id"])
    lo, hi = np.searchsorted(numbers, [kept["run_start"], kept["run_end"]])
    if hi >= len(numbers) or numbers[lo] != kept["run_start"] or numbers[hi] != kept["run_end"]:
        raise DataError(
            motion_path,
            f"shot {shot['shot_id']}: run {kept['run_start']}..{kept['run_end']} of the pruning "
            "table is not in the motion file (stale table?)",
        )
    if hi - lo + 1 < num_frames:
        raise DataError(
            motion_path,
            f"shot {shot['shot_id']}: its run of {hi - lo + 1} frames is shorter than the "
            f"{num_frames} frames to sample (is shots.prune.min_run_frames < num_frames?)",
        )
    motion = read_shot_motion(
        motion_path, shot["shot_id"], lo + sample_positions(hi - lo + 1, num_frames)
    )
    height, width = motion.masks.shape[1:]
    _, frames = read_frames(shot, motion.frame_numbers)
    frames = np.stack(
        [cv2.resize(f, (width, height), interpolation=cv2.INTER_AREA) for f in frames]
    )
    labels = shot["labels"]
    return ShotSample(
        frames=frames,
        masks=motion.masks,
        boundary=motion.boundary,
        frame_numbers=motion.frame_numbers,
        dataset=shot["dataset"],
        video_id=shot["video_id"],
        labels=labels.split(";") if labels else [],
        shot_id=shot["shot_id"],
        truth=_ground_truth(shot, motion.frame_numbers, (width, height)),
    )


def _ground_truth(shot: pd.Series, numbers: np.ndarray, size: tuple[int, int]):
    """0/1 object masks of the sampled frames at the masks' size, or None without ground truth.

    Only a binary mask for every sampled frame counts; they serve to measure the latent labels
    (labels_quality.csv of a training run), never as training targets.
    """
    if not shot["mask_path"] or shot["mask_format"] != "binary":
        return None
    if not all(Path(shot["mask_path"].format(frame=int(n))).is_file() for n in numbers):
        log.info("shot %s: ground truth missing for some sampled frames", shot["shot_id"])
        return None
    masks = [read_mask(shot, int(n)) for n in numbers]
    return np.stack([cv2.resize(m, size, interpolation=cv2.INTER_NEAREST) for m in masks])


def run(
    index_path: str | os.PathLike,
    pruned_path: str | os.PathLike,
    motion_dir: str | os.PathLike,
    params: dict,
    output: str | os.PathLike,
) -> int:
    """Write the training samples of every kept shot of one dataset; returns the shot count."""
    shots = read_shots(index_path).set_index("shot_id", drop=False)
    pruned = read_pruned(pruned_path)
    kept = pruned[pruned["status"] == "kept"]
    if kept.empty:
        datasets = ", ".join(sorted(pruned["dataset"].astype(str).unique())) or "(no shots)"
        raise DataError(
            pruned_path,
            f"every shot of dataset {datasets} was pruned away ({len(pruned)} shots); "
            "see the reasons in this table",
        )
    unknown = sorted(set(kept["shot_id"]) - set(shots.index))
    if unknown:
        raise DataError(pruned_path, f"kept shots {unknown[:5]} are not in the index {index_path}")
    # A video whose tag is none of the classes (DAVIS "none") still counts for the motion
    # stage's J/F, but gives nothing to train on.
    untagged = kept["shot_id"].map(shots["labels"]) == ""
    if untagged.any():
        log.info(
            "skipped %d kept shots without a tag: %s",
            untagged.sum(),
            ", ".join(kept.loc[untagged, "shot_id"]),
        )
        kept = kept[~untagged]
    if kept.empty:
        raise DataError(index_path, "no kept shot has a tag among the classes: nothing to train on")

    def samples() -> Iterator[ShotSample]:
        for _, row in tqdm(kept.iterrows(), total=len(kept), desc="sample shots"):
            motion_path = Path(motion_dir) / f"{row['video_id']}.h5"
            yield sample_shot(shots.loc[row["shot_id"]], row, motion_path, params["num_frames"])

    count = write_samples(output, samples(), params)
    log.info("wrote %d shots x %d frames to %s", count, params["num_frames"], output)
    return count
