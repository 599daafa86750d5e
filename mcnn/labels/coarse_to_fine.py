"""M-CNN labels of large frames, coarse to fine.

At the full size of a 321-pixel crop, every cut of the GrabCut-style search runs over about
100,000 pixels, yet the labelling changes only near object outlines. Frames whose shorter side
exceeds `coarse_side` are therefore first labelled by the whole search at that side (frames and
network scores area-averaged, masks sampled); the labels are brought back to full size, and the
search runs again at full size from them (`refine_iterations` GrabCut iterations), where only
the pixels within `refine_band` coarse pixels of a label change are free to move (the others
are held: `graphcut.BandSolver`). The colour models are refitted at full size in every
iteration of the second search, as in the first.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from mcnn.labels import mcnn_soft
from mcnn.labels.energy import label_edges


def _resize_all(images: np.ndarray, size: tuple[int, int], interpolation: int) -> np.ndarray:
    return np.stack([cv2.resize(image, size, interpolation=interpolation) for image in images])


def coarse_to_fine(frames, masks, probs, tags, cfg, alpha, rng) -> mcnn_soft.SoftInference:
    """`mcnn_soft.infer_mcnn` of a batch of large frames (its arguments), coarse to fine.

    The record's `accepted` and `fell_back` are those of the coarse search (whether a frame
    kept its motion-mask labels); `energies` are those of the full-size search.
    """
    batch, height, width = masks.shape
    factor = cfg["coarse_side"] / min(height, width)
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    probs = np.asarray(probs, np.float32)
    small_probs = np.stack([_resize_all(p, size, cv2.INTER_AREA) for p in probs])
    coarse = mcnn_soft.infer_mcnn(
        _resize_all(frames, size, cv2.INTER_AREA),
        _resize_all(masks, size, cv2.INTER_NEAREST),
        small_probs,
        tags,
        cfg,
        alpha,
        rng,
    )
    label_set = np.array([0, *sorted(tags)])
    up = _resize_all(coarse.labels, (width, height), cv2.INTER_NEAREST)
    radius = math.ceil(cfg["refine_band"] / factor)
    free = np.stack([label_edges(labels, radius) for labels in up])
    start = np.searchsorted(label_set, up).astype(np.intp)
    fine = mcnn_soft.search(
        frames, masks, probs, label_set, start, free, cfg, alpha, rng, cfg["refine_iterations"]
    )
    return mcnn_soft.SoftInference(fine.labels, fine.energies, coarse.accepted, coarse.fell_back)
