"""Qualitative results like the paper's Fig. 4: image | ground truth | each model's prediction.

The images are spread evenly over those of the split whose ground truth holds a class of one of
the models (in index order), so the same settings always show the same images. Ground truth and
predictions are drawn in VOC colours (void in VOC's cream).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

import numpy as np

from mcnn.classes import VOC_CLASSES, voc_palette
from mcnn.core.io import DataError, atomic_path
from mcnn.datasets import read_shots
from mcnn.datasets.frames import read_frames, read_mask
from mcnn.models import load_model
from mcnn.predict import output_values, pick_device, predict_scores

log = logging.getLogger(__name__)


def pick_rows(masks: list[np.ndarray], values: set[int], count: int) -> list[int]:
    """Indices of `count` masks spread evenly over those containing one of the VOC `values`."""
    eligible = [i for i, mask in enumerate(masks) if np.isin(mask, list(values)).any()]
    if not eligible:
        return []
    picks = np.linspace(0, len(eligible) - 1, min(count, len(eligible))).round().astype(int)
    return [eligible[k] for k in picks]


def run(
    checkpoints: Mapping[str, str | os.PathLike],
    index_path: str | os.PathLike,
    split: str,
    count: int,
    output: str | os.PathLike,
    device: str | None = None,
) -> list[str]:
    """Draw the grid for `checkpoints` (column name -> checkpoint); returns the images shown."""
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    shots = read_shots(index_path)
    rows = shots[shots["split"] == split].to_dict("records")
    if not rows:
        raise DataError(index_path, f"no image in split {split!r}")
    torch_device = pick_device(device)
    models = {name: load_model(path, torch_device) for name, path in checkpoints.items()}
    values = {
        VOC_CLASSES.index(n)
        for _, ckpt in models.values()
        for n in ckpt["classes"]
        if n in VOC_CLASSES
    }
    masks = [read_mask(row, 0) for row in rows]
    chosen = pick_rows(masks, values, count)
    if not chosen:
        raise DataError(index_path, f"no {split} image shows a class of the models")
    palette = voc_palette()
    grid, legend = [], {}  # legend: class name -> colour of every label shown
    for i in chosen:
        _, (image,) = read_frames(rows[i], [0])
        panels = [image, palette[masks[i]]]
        for v in np.unique(masks[i]):
            if v < len(VOC_CLASSES):
                legend.setdefault(VOC_CLASSES[v], palette[v])
        for model, ckpt in models.values():
            lookup, colours, value_names = output_values(ckpt["classes"])
            labels = predict_scores(model, image, device=torch_device).argmax(0).cpu().numpy()
            panels.append(colours[lookup[labels]])
            for v in np.unique(lookup[labels]):
                legend.setdefault(value_names[v], colours[v])
        grid.append(panels)
    names = [rows[i]["video_id"] for i in chosen]
    _draw(grid, names, ["image", "ground truth", *checkpoints], legend, output)
    return names


def _draw(grid, names: list[str], columns: list[str], legend: dict, output) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    height, width = grid[0][0].shape[:2]
    cell = 2.2
    fig, axes = plt.subplots(
        len(grid), len(columns), squeeze=False,
        figsize=(cell * len(columns), cell * height / width * len(grid) + 0.8),
    )  # fmt: skip
    for r, panels in enumerate(grid):
        for c, panel in enumerate(panels):
            ax = axes[r, c]
            ax.imshow(panel, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(columns[c], fontsize=9)
        axes[r, 0].set_ylabel(names[r], fontsize=7)
    handles = [Patch(color=colour / 255, label=name) for name, colour in legend.items()]
    fig.legend(handles=handles, loc="lower center", ncols=min(len(handles), 6), fontsize=7)
    fig.tight_layout(rect=(0, 0.4 / fig.get_figheight(), 1, 1))
    with atomic_path(output) as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
    log.info("wrote %s (%d images)", output, len(grid))
