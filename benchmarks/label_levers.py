"""Two levers of the M-CNN energy beyond the paper, on the batches of
benchmarks/label_quality.py (the same crops, the same two fixed folds of the DAVIS shots):

- scale: labels inferred on a finer grid than the training's (`train.label_stride` divided by
  each of `--scales`, default 2 and 4: frames resized from the crop, network scores
  interpolated as training interpolates its logits), then reduced to the training grid by area
  majority and scored there against the ground truth; flat scores and the final network of
  `--run`;
- calibration: per batch, the tags' log-scores shifted by one bias so that the tags beat the
  background on as many pixels as the motion masks cover (label-free, nothing to tune); flat
  scores, every snapshot and the final network of `--run`, and `--finetuned`.

Each lever with the paper's energy (mask_prior 0) and the configured one. The levers are fixed
rules, not picked on these shots: both folds are reported as they are.

    python benchmarks/label_levers.py --results results/davis --config configs/davis.yaml \\
        --run results/davis/train/mcnn-largefov-s0 \\
        --finetuned results/davis/finetune/largefov-s0/model.pt

Writes label_levers.csv (every batch, lever, source and energy) to `--out` (default
<results>/benchmarks/label_quality) and prints the mean gain over the masks per fold and the
worst sequence.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from label_quality import (
    PAPER,
    energy_labels,
    flat_scores,
    folds,
    network_scores,
    training_batches,
)

from mcnn.config import load
from mcnn.train.label_quality import pooled_iou

ENERGIES = {"paper": PAPER, "configured": {}}
#: The network term's weight for every source: the paper's first-training alpha, and the one the
#: davis config fine-tunes with (labels.alpha_finetune).
ALPHA = 1.0


def calibrated(probs: np.ndarray, masks: np.ndarray, tags) -> np.ndarray:
    """`probs` (B, K, H, W) with the tags' log-scores shifted by the one bias that makes a tag
    beat the background on the share of pixels the motion masks cover."""
    area = (np.asarray(masks) > 0).mean()
    if not 0 < area < 1:
        return probs
    tags = list(tags)
    log = np.log(np.maximum(probs, 1e-12))
    margin = log[:, 0] - log[:, tags].max(1)
    log[:, tags] += np.quantile(margin, area)
    log -= log.max(1, keepdims=True)
    shifted = np.exp(log)
    return (shifted / shifted.sum(1, keepdims=True)).astype(np.float32)


def to_grid(labels: np.ndarray, side: int) -> np.ndarray:
    """Object (any tag) where it covers at least half of a training-grid cell."""
    area = [cv2.resize((f > 0).astype(np.float32), (side, side), cv2.INTER_AREA) for f in labels]
    return np.stack(area) >= 0.5


def scores_of(path: str | None, batches, classes: int, side: int) -> list[np.ndarray]:
    """Flat 1/K scores (`path` None) or the network's, at `side`."""
    if path is None:
        return flat_scores(batches, classes, side)
    return network_scores(path, batches, side)


def measure(config, grid, batches, side, sources, lever, calibrate=False) -> list[dict]:
    """IoU at the training grid (`grid`'s truth) of the labels of `batches` (the same crops,
    maybe at a finer label size `side`), per source and energy."""
    classes = 1 + len(config["classes"])
    grid_side = grid[0][2].small_truth.shape[-1]
    rows = []
    for source, path in sources.items():
        scores = scores_of(path, batches, classes, side)
        for index, (sequence, tags, batch) in enumerate(batches):
            probs = scores[index]
            if calibrate:
                probs = calibrated(probs, batch.small_masks, tags)
            truth = grid[index][2].small_truth > 0
            for energy, overrides in ENERGIES.items():
                labels = energy_labels(batch, probs, tags, config["labels"], overrides, ALPHA)
                rows.append(
                    {"lever": lever, "source": source, "energy": energy, "sequence": sequence,
                     "iou": pooled_iou(to_grid(labels, grid_side), truth)}
                )  # fmt: skip
        print(f"{lever}: {source} done", flush=True)
    return rows


def finer(config: dict, scale: int) -> dict:
    """`config` with its label grid `scale` times finer (same crops)."""
    train = config["train"]["train"]
    if train["label_stride"] % scale:
        raise SystemExit(f"--scales {scale}: label_stride {train['label_stride']} is not divisible")
    stride = train["label_stride"] // scale
    return {**config, "train": {**config["train"], "train": {**train, "label_stride": stride}}}


def gains(table: pd.DataFrame, masks: pd.Series, fold_of: dict) -> pd.DataFrame:
    """Mean gain over the masks per fold and the worst sequence, per lever, source, energy."""
    seq = table.groupby(["lever", "source", "energy", "sequence"], as_index=False)["iou"].mean()
    seq["gain"] = seq["iou"] - seq["sequence"].map(masks)
    seq["fold"] = seq["sequence"].map(fold_of)
    keys = ["lever", "source", "energy"]
    result = seq.pivot_table(index=keys, columns="fold", values="gain", aggfunc="mean")
    worst = seq.loc[seq.groupby(keys)["gain"].idxmin()].set_index(keys)
    result["worst"] = worst["gain"]
    result["worst_sequence"] = worst["sequence"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=Path("results/davis"))
    parser.add_argument("--config", type=Path, default=Path("configs/davis.yaml"))
    parser.add_argument("--run", type=Path, required=True, help="a first training's folder")
    parser.add_argument("--finetuned", type=Path, help="a fine-tuned model.pt")
    parser.add_argument("--scales", type=int, nargs="*", default=[2, 4])
    parser.add_argument("--batches", type=int, default=4, help="batches (crops) per shot")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    config = load(args.config)
    out = args.out or args.results / "benchmarks" / "label_quality"
    out.mkdir(parents=True, exist_ok=True)
    final = args.run / "model.pt"
    if not final.is_file():
        raise SystemExit(f"--run {args.run}: no model.pt")

    _, grid = training_batches(args.results, config, args.batches)
    side = grid[0][2].small_truth.shape[-1]
    masks = (
        pd.DataFrame(
            {"sequence": s, "iou": pooled_iou(b.small_masks > 0, b.small_truth > 0)}
            for s, _, b in grid
        )
        .groupby("sequence")["iou"]
        .mean()
    )
    sources = {"flat": None}
    for snapshot in sorted((args.run / "snapshots").glob("model-*.pt")):
        sources[f"{int(snapshot.stem.split('-')[1])} it."] = str(snapshot)
    sources["final"] = str(final)
    if args.finetuned:
        sources["fine-tuned"] = str(args.finetuned)
    rows = measure(config, grid, grid, side, sources, "scale 1")
    rows += measure(config, grid, grid, side, sources, "scale 1, calibrated", calibrate=True)
    for scale in args.scales:
        _, batches = training_batches(args.results, finer(config, scale), args.batches)
        finer_side = batches[0][2].small_truth.shape[-1]
        rows += measure(config, grid, batches, finer_side, {"flat": None, "final": str(final)},
                        f"scale {scale}")  # fmt: skip

    table = pd.DataFrame(rows)
    table.to_csv(out / "label_levers.csv", index=False)
    fold_of = folds(sorted(masks.index))
    print(f"{len(grid)} batches of {len(masks)} shots, label grid {side} px; masks IoU "
          f"{masks.mean():.3f}; gain = labels - masks, mean per fold")  # fmt: skip
    print(gains(table, masks, fold_of).to_string(float_format=lambda v: f"{v:+.3f}"))


if __name__ == "__main__":
    sys.exit(main())
