"""DAVIS-2016 measures of a binary video segmentation: region J and boundary F.

J is the intersection over union of a frame's masks (two empty masks score 1). F is the
F-measure of boundary precision and recall: boundaries are the one-pixel contours of
`seg2bmap`, and a boundary pixel counts as matched when the other mask's boundary lies within
`BOUNDARY_TOLERANCE` x the image diagonal (tested by dilating that boundary with a disk).
Per sequence, the first and last frames are left out (the DAVIS protocol) and each measure is
summarised by its mean, its recall (share of frames scoring above `RECALL_THRESHOLD`) and its
decay over time (mean of the first quarter minus mean of the last quarter of the evaluated
frames; the quarters are `np.array_split(values, 4)`: contiguous, sizes differing by at most
one, the larger ones first; NaN for fewer than 4 frames).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from skimage.morphology import disk
from tqdm import tqdm

from mcnn.core.io import DataError, write_csv, write_json
from mcnn.datasets import read_shots
from mcnn.datasets.frames import read_mask
from mcnn.motion.store import read_shot_motion, shot_status_table

log = logging.getLogger(__name__)

# Protocol constants of the DAVIS benchmark, fixed so that results compare with published ones.
BOUNDARY_TOLERANCE = 0.008
RECALL_THRESHOLD = 0.5
DECAY_BINS = 4
MEASURES = ("J", "F")
STATISTICS = ("mean", "recall", "decay")


def region_similarity(pred: np.ndarray, gt: np.ndarray) -> float:
    """J: intersection over union of two binary masks; 1 when both are empty."""
    pred, gt = pred.astype(bool), gt.astype(bool)
    union = np.count_nonzero(pred | gt)
    return 1.0 if union == 0 else np.count_nonzero(pred & gt) / union


def seg2bmap(seg: np.ndarray) -> np.ndarray:
    """One-pixel-wide boundary map of a binary mask (the DAVIS / BSDS `seg2bmap` thinning).

    A pixel is a boundary pixel when it differs from its east, south or south-east neighbour;
    the last row compares only eastwards, the last column only southwards, so a boundary
    between two regions is marked on one side only.
    """
    seg = seg.astype(bool)
    east, south, south_east = (np.zeros_like(seg) for _ in range(3))
    east[:, :-1] = seg[:, 1:]
    south[:-1, :] = seg[1:, :]
    south_east[:-1, :-1] = seg[1:, 1:]
    bmap = (seg ^ east) | (seg ^ south) | (seg ^ south_east)
    bmap[-1, :] = seg[-1, :] ^ east[-1, :]
    bmap[:, -1] = seg[:, -1] ^ south[:, -1]
    bmap[-1, -1] = False
    return bmap


def boundary_f_measure(
    pred: np.ndarray, gt: np.ndarray, tolerance: float = BOUNDARY_TOLERANCE
) -> float:
    """F: boundary F-measure with a match distance of `tolerance` x the image diagonal."""
    radius = math.ceil(tolerance * math.hypot(*gt.shape))
    kernel = disk(radius).astype(np.uint8)
    pred_boundary, gt_boundary = seg2bmap(pred), seg2bmap(gt)
    num_pred, num_gt = np.count_nonzero(pred_boundary), np.count_nonzero(gt_boundary)
    if num_pred == 0 and num_gt == 0:
        return 1.0
    if num_pred == 0 or num_gt == 0:
        return 0.0  # precision or recall is 0 (the other is 1 by convention)
    gt_near = cv2.dilate(gt_boundary.astype(np.uint8), kernel).astype(bool)
    pred_near = cv2.dilate(pred_boundary.astype(np.uint8), kernel).astype(bool)
    precision = np.count_nonzero(pred_boundary & gt_near) / num_pred
    recall = np.count_nonzero(gt_boundary & pred_near) / num_gt
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def summarize(values: Sequence[float]) -> dict[str, float]:
    """mean, recall (share > RECALL_THRESHOLD) and decay (first minus last quarter) of a series."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return dict.fromkeys(STATISTICS, math.nan)
    decay = math.nan
    if values.size >= DECAY_BINS:
        bins = np.array_split(values, DECAY_BINS)
        decay = float(bins[0].mean() - bins[-1].mean())
    return {
        "mean": float(values.mean()),
        "recall": float(np.mean(values > RECALL_THRESHOLD)),
        "decay": decay,
    }


def evaluate_sequence(preds: Sequence[np.ndarray], gts: Sequence[np.ndarray]) -> dict[str, float]:
    """`J_mean`, `J_recall`, ..., `F_decay` of the frames given (already without first and last)."""
    scores = {
        "J": [region_similarity(p, g) for p, g in zip(preds, gts, strict=True)],
        "F": [boundary_f_measure(p, g) for p, g in zip(preds, gts, strict=True)],
    }
    return {
        f"{measure}_{stat}": value
        for measure in MEASURES
        for stat, value in summarize(scores[measure]).items()
    }


def _ground_truth(shot: pd.Series, frame: int) -> np.ndarray:
    mask = read_mask(shot, frame)
    if shot["mask_format"] == "voc":
        return (mask > 0) & (mask != 255)  # any object label is foreground; void is not
    return mask.astype(bool)


def evaluate_shot(shot: pd.Series, motion_path: Path) -> dict:
    """Scores of one shot's motion masks against its ground truth at the ground-truth size.

    Frames with a ground-truth file, except the shot's first and last, are evaluated; a frame
    without a motion mask (or every frame of a failed shot) counts as an empty prediction.
    """
    inner = np.arange(int(shot["first_frame"]) + 1, int(shot["last_frame"]))
    annotated = [n for n in inner if Path(shot["mask_path"].format(frame=int(n))).is_file()]
    motion = read_shot_motion(motion_path, shot["shot_id"])
    position = {int(n): i for i, n in enumerate(motion.frame_numbers)}
    preds, gts = [], []
    for frame in annotated:
        gt = _ground_truth(shot, frame)
        if frame in position:
            pred = cv2.resize(
                motion.masks[position[frame]],
                (gt.shape[1], gt.shape[0]),
                interpolation=cv2.INTER_NEAREST,
            )
        else:
            pred = np.zeros(gt.shape, dtype=np.uint8)
        preds.append(pred)
        gts.append(gt)
    return {
        "dataset": shot["dataset"],
        "video_id": shot["video_id"],
        "shot_id": shot["shot_id"],
        "motion_status": motion.status,
        "frames": len(annotated),
        "frames_without_motion": sum(frame not in position for frame in annotated),
        **evaluate_sequence(preds, gts),
    }


def evaluate_motion(
    shots: pd.DataFrame, motion_paths: Sequence[str | os.PathLike]
) -> tuple[pd.DataFrame, dict]:
    """Per-sequence table and summary (means over sequences) of the shots in the motion files."""
    status = shot_status_table(motion_paths)
    by_id = shots.set_index("shot_id", drop=False)
    unknown = status[~status["shot_id"].isin(by_id.index)]
    if not unknown.empty:
        first = unknown.iloc[0]
        raise DataError(first["path"], f"shot {first['shot_id']} is not in the shot index")
    with_gt = status[status["shot_id"].map(by_id["mask_path"]) != ""]
    if with_gt.empty:
        raise DataError(motion_paths[0], "no shot of these motion files has ground-truth masks")
    missing = sorted(set(by_id.index[by_id["mask_path"] != ""]) - set(status["shot_id"]))
    if missing:
        log.warning("%d annotated shots have no motion result: %s", len(missing), missing[:5])
    rows = [
        evaluate_shot(by_id.loc[row.shot_id], Path(row.path))
        for row in tqdm(with_gt.itertuples(index=False), total=len(with_gt), desc="J/F")
    ]
    table = pd.DataFrame(rows)
    scores = [f"{m}_{s}" for m in MEASURES for s in STATISTICS]
    summary = {
        "sequences": len(table),
        "frames": int(table["frames"].sum()),
        "failed_shots": int((table["motion_status"] != "ok").sum()),
        **{name: float(table[name].mean()) for name in scores},  # pandas skips NaN decays
        "protocol": {
            "boundary_tolerance": BOUNDARY_TOLERANCE,
            "recall_threshold": RECALL_THRESHOLD,
            "decay": "mean of first minus last of np.array_split(frames, 4)",
            "frames": "annotated frames except the first and last of each shot",
        },
    }
    return table, summary


def run(
    index_path: str | os.PathLike,
    motion_paths: Sequence[str | os.PathLike],
    output: str | os.PathLike,
    summary_path: str | os.PathLike | None = None,
) -> dict:
    """Evaluate motion masks against the index's ground truth; writes the CSV and JSON summary."""
    table, summary = evaluate_motion(read_shots(index_path), motion_paths)
    write_csv(output, table)
    write_json(summary_path or Path(output).with_suffix(".json"), summary)
    log.info(
        "%d sequences: J mean %.3f recall %.3f decay %.3f | F mean %.3f recall %.3f decay %.3f",
        summary["sequences"],
        *(summary[f"{m}_{s}"] for m in MEASURES for s in STATISTICS),
    )
    return summary
