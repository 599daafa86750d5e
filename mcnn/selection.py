"""Choice of the fine-tuning shots (paper 3.3, 4.2).

For every video, the shot whose motion masks overlap the current model's predictions best
(mean IoU over its sampled frames; foreground = any object label) is kept if that mean IoU is at
least `min_iou`. The table lists every candidate with its score, so the choice can be inspected.

Table columns: `dataset, video_id, shot_id, labels, mean_iou, best, selected`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import cv2
import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from mcnn.core.io import write_csv
from mcnn.models import load_model, predict_labels
from mcnn.predict import pick_device

log = logging.getLogger(__name__)

COLUMNS = ["dataset", "video_id", "shot_id", "labels", "mean_iou", "best", "selected"]


def frame_ious(predicted_fg: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """IoU per frame of two (T, H, W) binary stacks; two empty masks agree perfectly (1)."""
    predicted_fg, masks = predicted_fg.astype(bool), masks.astype(bool)
    intersection = (predicted_fg & masks).sum(axis=(1, 2))
    union = (predicted_fg | masks).sum(axis=(1, 2))
    return np.where(union > 0, intersection / np.maximum(union, 1), 1.0)


def choose_shots(scores: pd.DataFrame, min_iou: float) -> pd.DataFrame:
    """Mark each video's best-scoring shot (`best`) and keep it if it reaches `min_iou`.

    Ties go to the first shot in (dataset, video_id, shot_id) order.
    """
    table = scores.sort_values(["dataset", "video_id", "shot_id"], kind="stable")
    table = table.reset_index(drop=True)
    best_rows = table.groupby(["dataset", "video_id"], sort=False)["mean_iou"].idxmax()
    table["best"] = False
    table.loc[best_rows.to_numpy(), "best"] = True
    table["selected"] = table["best"] & (table["mean_iou"] >= min_iou)
    return table[COLUMNS]


def _downscale(frames: np.ndarray, masks: np.ndarray, max_side: int):
    height, width = frames.shape[1:3]
    scale = max_side / max(height, width)
    if scale >= 1:
        return frames, masks
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    frames = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames])
    masks = np.stack([cv2.resize(m, size, interpolation=cv2.INTER_NEAREST) for m in masks])
    return frames, masks


def score_shots(
    model: torch.nn.Module,
    sample_paths: Sequence[str | os.PathLike],
    params: dict,
    device: str | torch.device = "cpu",
) -> pd.DataFrame:
    """Mean IoU between each stored shot's motion masks and the model's foreground."""
    from mcnn.shots.samples import SampleStore

    rows = []
    for path in sample_paths:
        store = SampleStore(path)
        for shot_id in tqdm(sorted(store.shot_ids), desc=f"scoring {os.path.basename(path)}"):
            sample = store.read(shot_id)
            frames, masks = _downscale(sample.frames, sample.masks, params["max_side"])
            foreground = predict_labels(model, frames, device) > 0
            rows.append(
                {
                    "dataset": sample.dataset,
                    "video_id": sample.video_id,
                    "shot_id": shot_id,
                    "labels": ";".join(sample.labels),
                    "mean_iou": float(frame_ious(foreground, masks).mean()),
                }
            )
    return pd.DataFrame(rows, columns=COLUMNS[:5])


def run(
    checkpoint: str | os.PathLike,
    sample_paths: Sequence[str | os.PathLike],
    params: dict,
    output: str | os.PathLike,
    device: str = "auto",
) -> pd.DataFrame:
    """Score every shot with the model in `checkpoint`, choose, and write the table to `output`."""
    device = pick_device(None if device == "auto" else device)
    model, _ = load_model(checkpoint, device)
    table = choose_shots(score_shots(model, sample_paths, params, device), params["min_iou"])
    table["device"] = str(device)  # which device scored the shots (GPU and CPU may differ)
    write_csv(output, table)
    videos = table.groupby(["dataset", "video_id"]).ngroups
    log.info(
        "selected %d shots for %d videos (min IoU %.2f)",
        table["selected"].sum(),
        videos,
        params["min_iou"],
    )
    return table
