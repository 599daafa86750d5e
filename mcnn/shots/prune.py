"""Shot pruning after motion segmentation (paper section 4.2).

A shot is dropped when it has too few frames, or when its frames with a plausible amount of
foreground (between `min_fg_fraction` and `max_fg_fraction` of the frame) never run long
enough: nearly empty masks mean FST found no motion, very large ones mean it mistook the
background for the object. Of a kept shot only the longest valid run is used (earliest on ties),
because FST may fail in the middle of a shot and recover later.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from mcnn.core.io import DataError, write_csv
from mcnn.motion.store import read_shot_motion, shot_status_table

log = logging.getLogger(__name__)

COLUMNS = [
    "dataset",
    "video_id",
    "shot_id",
    "status",
    "reason",
    "num_frames",
    "run_start",
    "run_end",
    "run_length",
    "mean_fg_fraction",
]


def foreground_fractions(masks: np.ndarray) -> np.ndarray:
    """Share of foreground pixels of each 0/1 mask of a (T, h, w) stack."""
    return masks.reshape(masks.shape[0], -1).mean(axis=1, dtype=np.float64)


def longest_run(valid: np.ndarray) -> tuple[int, int]:
    """(start index, length) of the longest run of True values, earliest on ties; (0, 0) if none."""
    edges = np.diff(np.concatenate([[0], valid.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    if starts.size == 0:
        return 0, 0
    lengths = ends - starts
    best = int(np.argmax(lengths))  # argmax returns the first maximum: the earliest run
    return int(starts[best]), int(lengths[best])


def prune_shot(fractions: np.ndarray, frame_numbers: np.ndarray, cfg: dict) -> dict:
    """Decision for one shot from its per-frame foreground fractions.

    Returns status (`kept`/`dropped`), reason (`ok`, `too_short`, `no_valid_run`), num_frames,
    the longest valid run as frame numbers `run_start`..`run_end` (inclusive; absent when no frame
    is valid) with its `run_length`, and the shot's mean foreground fraction.
    """
    valid = (fractions >= cfg["min_fg_fraction"]) & (fractions <= cfg["max_fg_fraction"])
    start, length = longest_run(valid)
    if len(fractions) < cfg["min_shot_frames"]:
        status, reason = "dropped", "too_short"
    elif length < cfg["min_run_frames"]:
        status, reason = "dropped", "no_valid_run"
    else:
        status, reason = "kept", "ok"
    return {
        "status": status,
        "reason": reason,
        "num_frames": len(fractions),
        "run_start": int(frame_numbers[start]) if length else None,
        "run_end": int(frame_numbers[start + length - 1]) if length else None,
        "run_length": length,
        "mean_fg_fraction": float(fractions.mean()) if len(fractions) else None,
    }


def prune_shots(motion_paths: Sequence[str | os.PathLike], cfg: dict, dataset: str) -> pd.DataFrame:
    """The pruning table (columns `COLUMNS`) of every shot in the given per-video motion files."""
    rows = []
    for shot in shot_status_table(motion_paths).itertuples(index=False):
        ids = {"dataset": dataset, "video_id": shot.video_id, "shot_id": shot.shot_id}
        if shot.status != "ok":
            rows.append(
                {
                    **ids,
                    "status": "dropped",
                    "reason": f"motion_failed: {shot.reason}",
                    "num_frames": 0,
                    "run_length": 0,
                }
            )
            continue
        motion = read_shot_motion(shot.path, shot.shot_id)
        decision = prune_shot(foreground_fractions(motion.masks), motion.frame_numbers, cfg)
        rows.append({**ids, **decision})
    table = pd.DataFrame(rows, columns=COLUMNS)
    for column in ("run_start", "run_end"):
        table[column] = table[column].astype("Int64")  # nullable: empty when no frame is valid
    return table


def run(
    motion_paths: Sequence[str | os.PathLike],
    params: dict,
    output: str | os.PathLike,
    dataset: str | None = None,
) -> pd.DataFrame:
    """Prune one dataset's shots and write the table; `dataset` defaults to the files' folder."""
    if dataset is None:
        dataset = Path(motion_paths[0]).parent.name
    table = prune_shots(motion_paths, params, dataset)
    write_csv(output, table)
    kept = int((table["status"] == "kept").sum())
    reasons = table.loc[table["status"] == "dropped", "reason"].str.split(":").str[0]
    log.info(
        "%s: kept %d of %d shots; dropped: %s",
        dataset,
        kept,
        len(table),
        reasons.value_counts().to_dict(),
    )
    return table


def read_pruned(path: str | os.PathLike) -> pd.DataFrame:
    """Read a pruning table written by `run`; a file without its columns raises DataError."""
    try:
        table = pd.read_csv(path, dtype={"video_id": str, "shot_id": str, "dataset": str})
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(path, f"cannot read the pruning table: {exc}") from None
    missing = sorted(set(COLUMNS) - set(table.columns))
    if missing:
        raise DataError(path, f"not a pruning table, missing columns {missing}")
    for column in ("run_start", "run_end"):
        table[column] = table[column].astype("Int64")
    return table
