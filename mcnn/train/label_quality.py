"""How good the latent labels are as training targets: labels_quality.csv/png of a run.

Per iteration: the IoU with the ground truth of the batch's training frames (where the sample
store holds it, e.g. DAVIS) of the inferred labels (object = any tag) and of the motion masks,
both at the label size and pooled over the batch's pixels; and how the M-CNN search went (frames
searched, frames that fell back to their motion masks, accepted iterations in all). With several
processes, the main process records its own batches.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from mcnn.core.io import atomic_path, write_csv
from mcnn.train.data import Batch

QUALITY_COLUMNS = [
    "iteration",
    "batch",
    "label_iou",
    "motion_iou",
    "searched",
    "fell_back",
    "accepted",
]


def pooled_iou(prediction: np.ndarray, truth: np.ndarray) -> float:
    """IoU of two boolean stacks over all their pixels (NaN when both are empty)."""
    union = np.logical_or(prediction, truth).sum()
    return float(np.logical_and(prediction, truth).sum() / union) if union else math.nan


def batch_quality(labels: np.ndarray, batch: Batch) -> dict:
    """IoU of the labels and of the motion masks with the batch's ground truth (NaN without)."""
    if batch.small_truth is None:
        return {"label_iou": math.nan, "motion_iou": math.nan}
    truth = batch.small_truth > 0
    return {
        "label_iou": pooled_iou(labels > 0, truth),
        "motion_iou": pooled_iou(batch.small_masks > 0, truth),
    }


def quality_summary(history: list[dict]) -> dict:
    """train.json fields: the search's fallback share and mean accepted iterations, and the
    label / motion IoU averaged over the first and the last tenth of the iterations."""
    table = pd.DataFrame(history, columns=QUALITY_COLUMNS)
    searched = table["searched"].sum()
    window = max(1, len(table) // 10)
    summary = {
        "labels_searched_frames": int(searched),
        "labels_fallback_share": float(table["fell_back"].sum() / searched) if searched else None,
        "labels_accepted_iterations": float(table["accepted"].sum() / searched)
        if searched
        else None,
    }
    for column in ("label_iou", "motion_iou"):
        for name, part in (("first", table.head(window)), ("last", table.tail(window))):
            value = part[column].mean()
            summary[f"{column}_{name}_tenth"] = None if math.isnan(value) else float(value)
    return summary


def write_label_quality(output_dir: Path, history: list[dict]) -> None:
    """labels_quality.csv (one row per iteration) and labels_quality.png (running means)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = pd.DataFrame(history, columns=QUALITY_COLUMNS)
    write_csv(output_dir / "labels_quality.csv", table)
    window = max(1, len(table) // 20)
    figure, (iou_axis, search_axis) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    if table["label_iou"].notna().any():
        for column, name in (("label_iou", "inferred labels"), ("motion_iou", "motion masks")):
            mean = table[column].rolling(window, min_periods=1).mean()
            iou_axis.plot(table["iteration"], mean, lw=1.5, label=name)
        iou_axis.set_ylabel(f"IoU with ground truth\n(running mean of {window})")
        iou_axis.legend()
    else:
        iou_axis.text(0.5, 0.5, "no ground truth in the training samples", ha="center")
    searched = table["searched"].replace(0, np.nan)
    if searched.notna().any():
        share = (table["fell_back"] / searched).rolling(window, min_periods=1).mean()
        accepted = (table["accepted"] / searched).rolling(window, min_periods=1).mean()
        search_axis.plot(table["iteration"], share, lw=1.5, label="share of frames fallen back")
        search_axis.plot(table["iteration"], accepted, lw=1.5, label="accepted iterations")
        search_axis.legend()
    else:
        search_axis.text(0.5, 0.5, "no M-CNN label search in this run", ha="center")
    search_axis.set_xlabel("iteration")
    # fixed margins: a layout engine collapses panels that hold only a note (no ground truth)
    figure.subplots_adjust(left=0.14, right=0.97, top=0.97, bottom=0.09, hspace=0.08)
    with atomic_path(output_dir / "labels_quality.png") as tmp:
        figure.savefig(tmp, dpi=100)
    plt.close(figure)
