"""Latent labels against the ground truth on real frames: do motion masks used as soft constraints
give better training targets than the masks themselves (the paper's Fig. 3)?

The batches are the ones training makes (mcnn.train.data.TrainingData with the config's crop,
scales, mirror and label stride, `--batches` per shot, seeded): the project's own sample stores
under `--results` (the motion stage's FST masks, 10 frames per shot), on the shots whose dataset
has ground truth (DAVIS). The labels are scored at the label size, object (any tag) against
background, pooled over a batch's pixels, as labels_quality.csv does during training.

Methods, for every source of network scores (flat 1/K scores = a network that knows nothing;
each `--checkpoint NAME=PATH[@ALPHA]`, e.g. a first training's model.pt at alpha 1 and a
fine-tuned one at alpha 2):
- `masks`: the motion masks; `hard`: M-CNN* hard (mask x tag: for one tag the same pixels);
- `paper`: the M-CNN energy as configured with `mask_prior` 0 (the paper's energy: the mask
  enters through the colour models only);
- `configured`: the energy as the config sets it (its mask prior included);
- `chosen`: the energy with the mask prior and lambda picked on the other fold (below);
- `grabcut`: cv2.grabCut (the same iterations, initialised with the mask, same frames).

Validation protocol, fixed before any setting was scored: the sequences with ground truth in
sorted order, alternately in fold A and fold B. Each candidate of CANDIDATES is scored on one
fold; the one with the largest mean gain over the masks (over that fold's sequences and every
score source) is reported on the other fold, and the other way round. `chosen` is therefore
always a held-out figure. `configured` is held out only where the config's setting was picked
on the other fold (the config's comments say where it was picked).

    python benchmarks/label_quality.py --results results/davis --config configs/davis.yaml \
        --checkpoint first=results/davis/train/mcnn-largefov-s0/model.pt@1 \
        --checkpoint finetuned=results/davis/finetune/largefov-s0/model.pt@2

`--runs DIR...` (training folders) also reports the labels those trainings used
(labels_quality.csv), per fold, over the last tenth of their iterations.

Writes label_quality.csv (every batch, source and method), label_quality_summary.csv and
label_quality_<source>.png (per held-out sequence: frame, truth, mask, paper, chosen labels) to
`--out` (default <results>/benchmarks/label_quality).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from label_speed import grabcut  # benchmarks/, beside this script

from mcnn.config import load
from mcnn.labels import infer_batch
from mcnn.train.data import TrainingData
from mcnn.train.label_quality import pooled_iou

#: The candidates of the beyond-paper levers (fixed before any was scored).
CANDIDATES = {
    f"prior{prior:g}-ramp{ramp:g}-lambda{lam:g}": {
        "mask_prior": prior,
        "mask_prior_ramp": ramp,
        "pairwise_weight": lam,
    }
    for prior, ramp, lam in itertools.product([0.5, 1, 2, 4], [0.05, 0.1, 0.2], [25, 50, 100])
}
PAPER = {"mask_prior": 0.0}


def folds(sequences: list[str]) -> dict[str, str]:
    """Fold A / B of each sequence: alternately in sorted order."""
    return {name: "AB"[k % 2] for k, name in enumerate(sorted(sequences))}


def training_batches(results: Path, config: dict, per_shot: int):
    """(sequence, tags, batch) of every shot with ground truth, `per_shot` training batches each."""
    stores = sorted((results / "samples").glob("*.h5"))
    if not stores:
        raise SystemExit(f"{results}/samples: no sample store (run the workflow's sample_frames)")
    data = TrainingData(stores, config["classes"], config["train"]["train"], "mcnn")
    with_truth = [
        (k, item)
        for k, item in enumerate(data.items)
        if data.stores[item.store].read(item.shot_id).truth is not None
    ]
    if not with_truth:
        raise SystemExit(f"{results}/samples: no shot has ground truth (e.g. DAVIS)")
    batches = []
    for k, item in with_truth:
        for repeat in range(per_shot):
            # Crops of their own (seeded by shot and repeat), not those of a training run.
            batch = data.batch_of(item, (config["seed"], 28, k, repeat), "mcnn")
            batches.append((item.key.split("/")[-1], item.tags[0], batch))
    return data, batches


def network_scores(checkpoint: str, batches, label_side: int) -> list[np.ndarray]:
    """Softmax scores (B, K, s, s) of each batch's crop by the network in `checkpoint`."""
    import torch

    from mcnn.models import load_model
    from mcnn.train.trainer import logits_at, to_input

    model, _ = load_model(checkpoint)
    scores = []
    with torch.no_grad():
        for _, _, batch in batches:
            logits = logits_at(model(to_input(batch.frames, torch.device("cpu"))), label_side)
            scores.append(torch.softmax(logits.float(), 1).numpy())
    return scores


def flat_scores(batches, classes: int, side: int) -> list[np.ndarray]:
    """1/K scores (B, K, side, side) for each batch: a network that knows nothing."""
    return [np.full((len(b.frames), classes, side, side), 1 / classes, np.float32)
            for *_, b in batches]  # fmt: skip


def energy_labels(batch, probs, tags, labels_cfg, overrides, alpha) -> np.ndarray:
    cfg = {**labels_cfg, **overrides}
    rng = np.random.default_rng(list(batch.seed))
    return infer_batch(
        batch.small_frames, batch.small_masks, probs, tags, cfg, "mcnn", alpha=alpha, rng=rng
    ).labels


def score_all(batches, sources, labels_cfg, variants) -> tuple[pd.DataFrame, dict]:
    """IoU rows (sequence, batch, source, method, iou) and the labels kept for the figures."""
    rows, kept = [], {}
    for index, (sequence, tags, batch) in enumerate(batches):
        truth = batch.small_truth > 0
        base = {"sequence": sequence, "batch": index}
        rows.append(
            {
                **base,
                "source": "-",
                "method": "masks",
                "iou": pooled_iou(batch.small_masks > 0, truth),
            }
        )
        rows.append(
            {
                **base,
                "source": "-",
                "method": "grabcut",
                "iou": pooled_iou(grabcut(batch.small_frames, batch.small_masks, 4), truth),
            }
        )
        for source, (scores, alpha) in sources.items():
            probs = scores[index]
            hard = infer_batch(
                batch.small_frames, batch.small_masks, probs, tags, labels_cfg, "hard"
            )
            rows.append(
                {
                    **base,
                    "source": source,
                    "method": "hard",
                    "iou": pooled_iou(hard.labels > 0, truth),
                }
            )
            for name, overrides in variants.items():
                labels = energy_labels(batch, probs, tags, labels_cfg, overrides, alpha)
                rows.append(
                    {**base, "source": source, "method": name, "iou": pooled_iou(labels > 0, truth)}
                )
                kept[(index, source, name)] = labels
    return pd.DataFrame(rows), kept


def per_sequence(table: pd.DataFrame) -> pd.DataFrame:
    """Mean IoU per (sequence, source, method) over the batches."""
    return table.groupby(["sequence", "source", "method"], as_index=False)["iou"].mean()


def cross_validate(seq: pd.DataFrame, fold_of: dict[str, str]) -> tuple[pd.DataFrame, dict]:
    """`chosen` rows: each sequence scored by the candidate picked on the other fold."""
    masks = seq[seq["method"] == "masks"].set_index("sequence")["iou"]
    energy = seq[seq["method"].isin(CANDIDATES)].copy()
    energy["gain"] = energy["iou"] - energy["sequence"].map(masks)
    energy["fold"] = energy["sequence"].map(fold_of)
    picks, chosen = {}, []
    for fold in "AB":
        tuning = energy[energy["fold"] != fold]
        picks[fold] = tuning.groupby("method")["gain"].mean().idxmax()
        held = energy[(energy["fold"] == fold) & (energy["method"] == picks[fold])]
        chosen.append(held.assign(method="chosen", picked=picks[fold]))
    return pd.concat(chosen)[["sequence", "source", "method", "iou", "picked"]], picks


def summary(seq: pd.DataFrame, fold_of: dict[str, str], sources) -> pd.DataFrame:
    """Mean IoU per source and method over all sequences, and the gain over the masks."""
    masks = seq[seq["method"] == "masks"].set_index("sequence")["iou"]
    rows = []
    for source in sources:
        for method in ["masks", "hard", "paper", "configured", "chosen", "grabcut"]:
            part = seq[(seq["method"] == method) & seq["source"].isin([source, "-"])]
            if part.empty:
                continue
            gains = part["iou"].values - part["sequence"].map(masks).values
            rows.append(
                {
                    "source": source,
                    "method": method,
                    "iou": part["iou"].mean(),
                    "gain": gains.mean(),
                    "worst_gain": gains.min(),
                    "worst_sequence": part["sequence"].values[gains.argmin()],
                    "sequences": len(part),
                }
            )
    return pd.DataFrame(rows)


def figure(path: Path, batches, kept, seq_picks, source: str) -> None:
    """Per sequence, the middle frame of its batch with the most object there: frame, truth,
    mask, paper, chosen."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    first = {}
    for index, (sequence, _, batch) in enumerate(batches):
        middle = len(batch.small_frames) // 2
        area = (batch.small_truth[middle] > 0).sum()
        if sequence not in first or area > first[sequence][1]:
            first[sequence] = (index, area)
    first = {sequence: index for sequence, (index, _) in first.items()}
    names = sorted(first)
    columns = ["frame", "ground truth", "motion mask", "paper energy", "chosen (held out)"]
    fig, axes = plt.subplots(len(names), 5, figsize=(10, 2.1 * len(names)), squeeze=False)
    for row, sequence in enumerate(names):
        index = first[sequence]
        batch = batches[index][2]
        middle = len(batch.small_frames) // 2
        truth = batch.small_truth[middle] > 0
        panels = [
            batch.small_frames[middle],
            truth,
            batch.small_masks[middle] > 0,
            kept[(index, source, "paper")][middle] > 0,
            kept[(index, source, seq_picks[sequence])][middle] > 0,
        ]
        for col, panel in enumerate(panels):
            axis = axes[row, col]
            axis.imshow(panel, cmap=None if col == 0 else "gray", interpolation="nearest")
            axis.set_xticks([])
            axis.set_yticks([])
            title = columns[col] if row == 0 else ""
            if col >= 2:
                title += f"\nIoU {pooled_iou(panel, truth):.2f}"
            axis.set_title(title, fontsize=7)
        axes[row, 0].set_ylabel(sequence, fontsize=8)
    fig.suptitle(f"Latent labels at the label size, scores: {source}", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.97))  # room for the title above the column titles
    fig.savefig(path, dpi=110)
    plt.close(fig)


def training_gains(runs: list[Path], fold_of: dict[str, str]) -> pd.DataFrame:
    """The labels each training used against their masks (labels_quality.csv), over the last
    tenth of its iterations: mean IoU per fold, the worst sequence's gain, per run."""
    rows = []
    for run in runs:
        table = pd.read_csv(run / "labels_quality.csv").dropna(subset=["label_iou"])
        last = table[table["iteration"] > 0.9 * table["iteration"].max()].copy()
        last["sequence"] = last["batch"].str.split("/").str[-1]
        last["fold"] = last["sequence"].map(fold_of)
        per_sequence = last.groupby(["fold", "sequence"])[["label_iou", "motion_iou"]].mean()
        gain = per_sequence["label_iou"] - per_sequence["motion_iou"]
        for fold, part in per_sequence.groupby(level="fold"):
            rows.append(
                {
                    "run": str(run),
                    "fold": fold,
                    "sequences": len(part),
                    "labels": part["label_iou"].mean(),
                    "masks": part["motion_iou"].mean(),
                    "gain": gain[fold].mean(),
                    "worst_gain": gain[fold].min(),
                    "worst_sequence": gain[fold].idxmin(),
                }
            )
    return pd.DataFrame(rows)


def parse_checkpoint(text: str, default_alpha: float) -> tuple[str, str, float]:
    if "=" not in text:
        raise SystemExit(f"--checkpoint {text!r}: expected NAME=PATH[@ALPHA]")
    name, _, rest = text.partition("=")
    path, _, alpha = rest.partition("@")
    if not Path(path).is_file():
        raise SystemExit(f"--checkpoint {name}: {path}: no such file")
    return name, path, float(alpha) if alpha else default_alpha


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=Path("results/davis"))
    parser.add_argument("--config", type=Path, default=Path("configs/davis.yaml"))
    parser.add_argument("--checkpoint", action="append", default=[])
    parser.add_argument("--batches", type=int, default=4, help="batches (crops) per shot")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--runs", nargs="*", type=Path, default=[], help="training folders: their labels' gain"
    )
    args = parser.parse_args()
    config = load(args.config)
    labels_cfg = config["labels"]
    out = args.out or args.results / "benchmarks" / "label_quality"
    out.mkdir(parents=True, exist_ok=True)

    data, batches = training_batches(args.results, config, args.batches)
    flat = flat_scores(batches, 1 + len(data.classes), data.label_side)
    sources = {"flat": (flat, labels_cfg["alpha"])}
    for text in args.checkpoint:
        name, path, alpha = parse_checkpoint(text, labels_cfg["alpha"])
        sources[name] = (network_scores(path, batches, data.label_side), alpha)
    fold_of = folds(sorted({sequence for sequence, _, _ in batches}))
    start = time.perf_counter()
    variants = {"configured": {}, "paper": PAPER, **CANDIDATES}
    table, kept = score_all(batches, sources, labels_cfg, variants)
    seconds = time.perf_counter() - start
    seq = per_sequence(table)
    chosen, picks = cross_validate(seq, fold_of)
    seq_all = pd.concat([seq, chosen.drop(columns="picked")])
    seq_picks = {s: picks[fold_of[s]] for s in fold_of}

    table.to_csv(out / "label_quality.csv", index=False)
    result = summary(seq_all, fold_of, sources)
    result.to_csv(out / "label_quality_summary.csv", index=False)
    wide = seq_all.pivot_table(index="sequence", columns=["source", "method"], values="iou")
    wide.to_csv(out / "label_quality_sequences.csv")
    for source in sources:
        figure(out / f"label_quality_{source}.png", batches, kept, seq_picks, source)

    print(
        f"{len(batches)} batches of {len(fold_of)} sequences, label side {data.label_side}; "
        f"{seconds:.0f} s for {len(CANDIDATES) + 1} energies x {len(sources)} sources"
    )
    print(f"picked on fold B for A: {picks['A']}; on fold A for B: {picks['B']}")
    print(result.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    columns = [(s, m) for s in sources for m in ("paper", "configured", "chosen")]
    print(wide[[("-", "masks"), ("-", "grabcut"), *columns]].round(3).to_string())
    if args.runs:
        gains = training_gains(args.runs, fold_of)
        gains.to_csv(out / "label_quality_training.csv", index=False)
        print("labels the trainings used, last tenth of each run (gain = labels - masks):")
        print(gains.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    sys.exit(main())
