"""Label-quality curves of every training of the experiment in one figure and one table.

Each training writes labels_quality.csv: per iteration, the IoU with the ground truth of its
batch's training frames (where the samples hold it, e.g. DAVIS) of the labels it trained on and
of the motion masks they started from. Here the runs of all variants and seeds come together:
`label_quality.csv` (one row per run: the mean IoU of labels and masks over the first and the
last tenth of the iterations, and the gain of the labels over the masks) and `label_quality.png`
(the running mean over iterations per variant, mean over seeds, masks dashed; one panel per
stage). A run whose batches never had ground truth is listed with empty IoUs; with none at
all the figure says so.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pandas as pd

from mcnn.core.io import DataError, atomic_path, write_csv
from mcnn.evaluation.tables import VARIANT_NAMES

#: A run's variant (named as in the VOC table) from its stage and label strategy.
VARIANT = {
    ("train", "em_adapt"): "em_adapt",
    ("train", "hard"): "mcnn_hard",
    ("train", "mcnn"): "mcnn_star",
    ("finetune", "mcnn"): "mcnn",
    ("mixed", "mcnn"): "mixed",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--runs", nargs="+", required=True, type=Path, help="training folders (train.json inside)"
    )
    parser.add_argument("--output-csv", required=True, help="one row per run (CSV)")
    parser.add_argument("--output-png", required=True, help="curves per stage and variant")


def read_run(folder: Path) -> tuple[dict, pd.DataFrame]:
    """A run's description (variant, stage, strategy, seed) and its labels_quality.csv."""
    try:
        summary = json.loads((folder / "train.json").read_text())
        curve = pd.read_csv(folder / "labels_quality.csv")
    except (OSError, ValueError) as exc:
        raise DataError(folder, f"not a finished training folder: {exc}") from exc
    missing = {"iteration", "label_iou", "motion_iou"} - set(curve.columns)
    if missing:
        raise DataError(folder / "labels_quality.csv", f"missing columns {sorted(missing)}")
    key = (summary["stage"], summary["strategy"])
    run = {
        "variant": VARIANT_NAMES[VARIANT[key]] if key in VARIANT else f"{key[0]} {key[1]}",
        "stage": summary["stage"],
        "strategy": summary["strategy"],
        "seed": summary["seed"],
        "run": str(folder),
        "iterations": len(curve),
    }
    # The first / last tenth means the training wrote (mcnn.train.label_quality); None = no
    # ground truth in those batches.
    for name in ("first", "last"):
        for column in ("label_iou", "motion_iou"):
            field = f"{column}_{name}_tenth"
            if field not in summary:
                raise DataError(folder / "train.json", f"no {field}")
            run[field] = math.nan if summary[field] is None else summary[field]
        run[f"gain_{name}_tenth"] = run[f"label_iou_{name}_tenth"] - run[f"motion_iou_{name}_tenth"]
    return run, curve


def plot(path: str, runs: list[tuple[dict, pd.DataFrame]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [(r, c) for r, c in runs if c["label_iou"].notna().any()]
    if not runs:
        figure, axis = plt.subplots(figsize=(5, 2))
        axis.text(0.5, 0.5, "no training batch had ground truth", ha="center")
        axis.set_axis_off()
        with atomic_path(path) as tmp:
            figure.savefig(tmp, dpi=100)
        plt.close(figure)
        return
    stages = [s for s in ("train", "finetune", "mixed") if any(r["stage"] == s for r, _ in runs)]
    figure, axes = plt.subplots(
        1, len(stages), figsize=(5 * len(stages), 3.8), squeeze=False, sharey=True
    )
    for axis, stage in zip(axes[0], stages, strict=True):
        variants = sorted({r["variant"] for r, _ in runs if r["stage"] == stage})
        for k, variant in enumerate(variants):
            curves = [c.set_index("iteration") for r, c in runs if r["variant"] == variant]
            window = max(1, len(curves[0]) // 20)
            colour = f"C{k}"
            for column, style, name in (
                ("label_iou", "-", "labels"),
                ("motion_iou", "--", "masks"),
            ):
                mean = pd.concat([c[column] for c in curves], axis=1).mean(axis=1)
                smooth = mean.rolling(window, min_periods=1).mean()
                axis.plot(smooth.index, smooth, style, color=colour, lw=1.4,
                          label=f"{variant} {name} ({len(curves)} seeds)")  # fmt: skip
        axis.set_title(stage)
        axis.set_xlabel("iteration")
        axis.legend(fontsize=7)
    axes[0, 0].set_ylabel("IoU with ground truth of the training frames\n(running mean)")
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=100)
    plt.close(figure)


def main(args: argparse.Namespace) -> None:
    runs = [read_run(folder) for folder in args.runs]
    table = pd.DataFrame([run for run, _ in runs])
    write_csv(args.output_csv, table.sort_values(["stage", "variant", "seed"]))
    plot(args.output_png, runs)
