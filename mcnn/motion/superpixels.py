"""Per-shot superpixel graph for FST: SLIC per frame, per-superpixel statistics, and the spatial
(adjacent in a frame) and temporal (connected by the flow to the next frame) edges.

Superpixels of all frames share one numbering: frame t owns ids offsets[t] .. offsets[t+1]-1.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np
from skimage.segmentation import slic

from mcnn.motion.flow import landing_index


@dataclass
class ShotSuperpixels:
    labels: np.ndarray  # (T, H, W) int64 shot-wide superpixel id of every pixel
    offsets: np.ndarray  # (T+1,) first id of each frame
    frame: np.ndarray  # (N,) frame index of each superpixel
    size: np.ndarray  # (N,) pixel count
    colour: np.ndarray  # (N, 3) mean colour
    centre: np.ndarray  # (N, 2) mean (row, col)

    @property
    def count(self) -> int:
        return len(self.size)

    @cached_property
    def adjacent(self) -> np.ndarray:
        """`spatial_edges`, computed once: every flow's segmentation of a shot uses them."""
        return spatial_edges(self)

    def mean(self, values: np.ndarray) -> np.ndarray:
        """(N,) per-superpixel mean of a (T, H, W) pixel map."""
        return np.bincount(self.labels.ravel(), values.ravel(), self.count) / self.size


def build_superpixels(frames: list[np.ndarray], cfg: dict) -> ShotSuperpixels:
    """SLIC superpixels of every frame (RGB uint8) with `config["motion"]["fst"]` settings."""
    t, (h, w) = len(frames), frames[0].shape[:2]
    labels = np.empty((t, h, w), np.int64)
    offsets = [0]
    # Per-superpixel sums frame by frame: each superpixel lies in one frame, so these are the
    # sums of one bincount over the whole shot, added in the same pixel order.
    rows = np.repeat(np.arange(h, dtype=np.float64), w)
    cols = np.tile(np.arange(w, dtype=np.float64), h)
    size, colour, centre = [], [], []
    for i, frame in enumerate(frames):
        seg = slic(
            frame,
            n_segments=cfg["superpixels"],
            compactness=cfg["compactness"],
            max_num_iter=cfg["slic_iterations"],
            start_label=0,
        ).ravel()
        # SLIC can leave unused ids; renumber densely so ids index arrays directly
        count = np.bincount(seg)
        if not count.all():
            seg = (np.cumsum(count > 0) - 1)[seg]
            count = count[count > 0]
        n = len(count)
        labels[i] = (seg + offsets[-1]).reshape(h, w)
        offsets.append(offsets[-1] + n)
        if cfg["colour_space"] == "lab":
            frame = cv2.cvtColor(frame, cv2.COLOR_RGB2LAB)
        pixels = frame.reshape(-1, 3)
        size.append(count.astype(np.float64))
        colour.append(np.stack([np.bincount(seg, pixels[:, c], n) for c in range(3)], 1))
        centre.append(np.stack([np.bincount(seg, rows, n), np.bincount(seg, cols, n)], 1))
    offsets = np.asarray(offsets)
    size = np.concatenate(size)
    colour = np.concatenate(colour) / size[:, None]
    centre = np.concatenate(centre) / size[:, None]
    frame_of = np.repeat(np.arange(t), np.diff(offsets))
    return ShotSuperpixels(labels, offsets, frame_of, size, colour, centre)


def spatial_edges(sp: ShotSuperpixels) -> np.ndarray:
    """(E, 2) unique pairs (i < j) of superpixels that touch (4-connectivity) in the same frame,
    sorted (`ShotSuperpixels.adjacent` keeps them)."""
    pairs = []
    for t in range(len(sp.offsets) - 1):
        first, n = sp.offsets[t], sp.offsets[t + 1] - sp.offsets[t]
        lab = sp.labels[t] - first
        a = np.concatenate([lab[:, :-1].ravel(), lab[:-1, :].ravel()])
        b = np.concatenate([lab[:, 1:].ravel(), lab[1:, :].ravel()])
        touching = a != b
        low = np.minimum(a, b)[touching]
        high = np.maximum(a, b)[touching]
        # Frame-local ids are small: mark the pairs in an n x n table instead of sorting
        # every pixel pair (the table's order is the sorted order).
        seen = np.zeros(n * n, bool)
        seen[low * n + high] = True
        keys = np.flatnonzero(seen)
        pairs.append(np.stack([keys // n, keys % n], 1) + first)
    return np.concatenate(pairs)


def temporal_edges(sp: ShotSuperpixels, forward: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Superpixels of frame t linked to those of t+1 that their pixels move into.

    Returns ((E, 2) pairs (i in frame t, j in frame t+1), (E,) overlap ratio = share of i's
    pixels that the forward flow carries into j).
    """
    pairs, overlaps = [], []
    for t, flow in enumerate(forward):
        source = sp.labels[t].ravel()
        target = sp.labels[t + 1].ravel().take(landing_index(flow).ravel())
        keys, counts = np.unique(source * sp.count + target, return_counts=True)
        i, j = keys // sp.count, keys % sp.count
        pairs.append(np.stack([i, j], 1))
        overlaps.append(counts / sp.size[i])
    return np.concatenate(pairs), np.concatenate(overlaps)


def pull_along_flow(
    sp: ShotSuperpixels,
    values: np.ndarray,
    t: int,
    source: int,
    flow: np.ndarray,
    weights: np.ndarray | None = None,
    valid: np.ndarray | None = None,
    landing: np.ndarray | None = None,
) -> np.ndarray:
    """Carry per-superpixel `values` (N,) of frame `source` to the superpixels of frame `t`.

    `flow` maps frame t to frame `source`; each pixel of frame t takes the value of the source
    superpixel it lands on, and the result is the mean over each superpixel of frame t. With
    `weights` (N,), the mean is weighted by the weight of each pixel's source superpixel (FST's
    normalised propagation: unreliable sources count less, but nothing decays); a superpixel
    whose sources all weigh 0 gets 0. `valid` (H, W) bool: only these pixels of frame t carry
    a value (the others, e.g. occluded in the source frame, weigh 0; needs `weights`).
    `landing`: the flow's `landing_index`, if already computed.
    """
    if landing is None:
        landing = landing_index(flow)
    src = sp.labels[source].ravel().take(landing)
    if weights is None:
        return frame_means(sp, t, values.take(src))
    first, last = sp.offsets[t], sp.offsets[t + 1]
    local = sp.labels[t].ravel() - first
    w = weights.take(src).ravel()
    if valid is not None:
        w = w * valid.ravel()
    total = np.bincount(local, w * values.take(src).ravel(), last - first)
    norm = np.bincount(local, w, last - first)
    return np.divide(total, norm, out=np.zeros_like(total), where=norm > 0)


def frame_means(sp: ShotSuperpixels, t: int, image: np.ndarray) -> np.ndarray:
    """Per-superpixel mean of a (H, W) map of frame `t`, for that frame's superpixels."""
    first, last = sp.offsets[t], sp.offsets[t + 1]
    local = sp.labels[t].ravel() - first
    return np.bincount(local, image.ravel(), last - first) / sp.size[first:last]
