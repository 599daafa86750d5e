"""Figure of the latent labels of one sampled batch, one panel per strategy (paper Fig. 3).

Rows are the batch's frames; columns: frame | motion mask | network argmax | inferred labels,
labels in VOC palette colours. Without --checkpoint the network probabilities are uniform. The
M-CNN panel names the mean number of accepted iterations and the frames that fell back to their
motion masks (marked "fell back" on their row).
"""

from __future__ import annotations

import argparse
import json
import logging

import numpy as np

from mcnn.classes import label_palette
from mcnn.core.io import DataError, atomic_path
from mcnn.labels import STRATEGIES, SoftInference, infer_batch

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--samples", required=True, help="training samples HDF5")
    parser.add_argument("--shot", help="shot id of the batch to show (default: the first one)")
    parser.add_argument("--params", required=True, help="the `labels` config section (JSON)")
    parser.add_argument("--classes", required=True, help="config['classes'] (JSON list)")
    parser.add_argument("--checkpoint", help="network checkpoint; uniform probabilities if absent")
    parser.add_argument("--seed", type=int, default=0, help="seed of the label inference")
    parser.add_argument("--output", required=True, help="PNG file to write")


def main(args: argparse.Namespace) -> None:
    run(
        samples_path=args.samples,
        shot_id=args.shot,
        cfg=json.loads(args.params),
        classes=json.loads(args.classes),
        checkpoint=args.checkpoint,
        seed=args.seed,
        output=args.output,
    )


def run(
    samples_path: str,
    shot_id: str | None,
    cfg: dict,
    classes: list[str],
    checkpoint: str | None,
    seed: int,
    output: str,
) -> None:
    from mcnn.shots.samples import SampleStore

    store = SampleStore(samples_path)
    if shot_id is None:
        shot_id = sorted(store.shot_ids)[0]
    sample = store.read(shot_id)
    unknown = [label for label in sample.labels if label not in classes]
    if unknown:
        raise DataError(f"{samples_path}:{shot_id}", f"tags {unknown} are not in the classes")
    tags = [classes.index(label) + 1 for label in sample.labels]
    if checkpoint is None:
        n_labels = 1 + len(classes)
        shape = (len(sample.frames), n_labels, *sample.frames.shape[1:3])
        probs = np.full(shape, 1.0 / n_labels, np.float32)
        network = "uniform network probabilities (no checkpoint)"
    else:
        probs = _network_probs(checkpoint, sample.frames)
        network = f"network {checkpoint}"
    results = {}
    for strategy in STRATEGIES:
        log.info("shot %s: %s labels", shot_id, strategy)
        results[strategy] = infer_batch(
            sample.frames, sample.masks, probs, tags, cfg, strategy,
            rng=np.random.default_rng(seed),
        )  # fmt: skip
    title = f"{shot_id} ({', '.join(sample.labels) or 'no tag'}); {network}"
    _draw(
        sample.frames, sample.masks, probs.argmax(1), results, title, label_palette(classes), output
    )


def _network_probs(checkpoint: str, frames: np.ndarray) -> np.ndarray:
    from mcnn.models import load_model, predict_probs

    model, _ = load_model(checkpoint)
    return predict_probs(model, frames).numpy()


def search_note(search: SoftInference | None) -> str:
    """What the M-CNN search did, for a panel title ('' for the other strategies)."""
    if search is None:
        return ""
    return (
        f"{search.accepted.mean():.2f} accepted iterations per frame, "
        f"{int(search.fell_back.sum())} of {len(search.fell_back)} frames fell back"
    )


def _draw(frames, masks, argmax, results: dict, title: str, palette, output: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = ("frame", "motion mask", "network argmax", "inferred labels")
    n_rows = len(frames)
    fig = plt.figure(figsize=(4 * 1.6 * len(results), 1.6 * n_rows + 0.8), layout="constrained")
    fig.suptitle(title)
    for panel, (strategy, result) in zip(
        fig.subfigures(1, len(results)), results.items(), strict=True
    ):
        note = search_note(result.search)
        panel.suptitle(f"{strategy}\n{note}" if note else strategy, fontsize=9)
        axes = panel.subplots(n_rows, len(columns), squeeze=False)
        for row in range(n_rows):
            labels = result.labels[row]
            images = (frames[row], masks[row] > 0, palette[argmax[row]], palette[labels])
            for col, image in enumerate(images):
                ax = axes[row, col]
                ax.imshow(image, cmap="gray" if image.ndim == 2 else None, interpolation="nearest")
                ax.set_axis_off()
                if row == 0:
                    ax.set_title(columns[col], fontsize=8)
            if result.search is not None and result.search.fell_back[row]:
                axes[row, -1].set_title("fell back", fontsize=8, color="red", loc="right")
    with atomic_path(output) as tmp:
        fig.savefig(tmp, dpi=80)
    plt.close(fig)
    log.info("wrote %s", output)
