"""Terms of the M-CNN labelling energy (paper eq. 2-3) on the 8-neighbour pixel grid.

Edges are stored per direction: `weights[d, y, x]` is the Potts weight of the pair
((y, x), (y + dy, x + dx)) for `(dy, dx) = OFFSETS[d]`, zero where the neighbour is outside the
frame. The four directions cover every undirected 8-neighbour pair exactly once.
"""

from __future__ import annotations

import cv2
import numpy as np

OFFSETS = ((0, 1), (1, 0), (1, 1), (1, -1))


def edge_slices(offset: tuple[int, int], shape: tuple[int, int]) -> tuple[tuple, tuple]:
    """Index pairs (src, dst) so that `a[src]` and `a[dst]` are the two ends of every edge."""
    dy, dx = offset
    height, width = shape
    rows_src, rows_dst = slice(0, height - dy), slice(dy, height)
    if dx >= 0:
        cols_src, cols_dst = slice(0, width - dx), slice(dx, width)
    else:
        cols_src, cols_dst = slice(-dx, width), slice(0, width + dx)
    return (rows_src, cols_src), (rows_dst, cols_dst)


def boundary_band(mask: np.ndarray, radius: int) -> np.ndarray:
    """Pixels within `radius` (Euclidean) of the motion segment's boundary (bool (H, W)).

    An empty or full mask has no boundary, hence no band; the frame border is not a boundary.
    """
    return label_edges(mask, max(radius, 0), cv2.MORPH_ELLIPSE)


def label_edges(labels: np.ndarray, radius: int, shape: int = cv2.MORPH_RECT) -> np.ndarray:
    """Pixels within `radius` of a pixel of another label, bool (H, W): chessboard distance
    (the default square), or Euclidean with `shape=cv2.MORPH_ELLIPSE`."""
    kernel = cv2.getStructuringElement(shape, (2 * radius + 1, 2 * radius + 1))
    labels = np.asarray(labels, np.uint8)
    return cv2.dilate(labels, kernel) != cv2.erode(labels, kernel)


def band_radius(shape: tuple[int, int], cfg: dict) -> int:
    """The band half-width in pixels for a frame of this size."""
    if cfg["band_width"] <= 0:
        return 0
    return max(1, round(cfg["band_width"] * min(shape)))


def pairwise_weights(colours: np.ndarray, band: np.ndarray, cfg: dict) -> np.ndarray:
    """Eq. (3) weights lambda (1 - Delta) exp(-gamma ||z_i - z_j||^2) / dist, (4, H, W).

    `colours` float (H, W, 3) in [0, 1]; `band` bool (H, W), Delta(i, j) = band_i & band_j.
    """
    shape = colours.shape[:2]
    slices = [edge_slices(offset, shape) for offset in OFFSETS]
    sq_diffs = [((colours[src] - colours[dst]) ** 2).sum(-1) for src, dst in slices]
    gamma = cfg["gamma"]
    if cfg["contrast_mode"] == "adaptive":
        mean_sq = sum(float(d.sum()) for d in sq_diffs) / max(sum(d.size for d in sq_diffs), 1)
        # A frame of one colour has no contrast to normalise: every pair then weighs lambda.
        gamma = gamma / mean_sq if mean_sq > 0 else 0.0
    weights = np.zeros((len(OFFSETS), *shape))
    lam = pairwise_lambda(shape, cfg)
    for d, ((src, dst), sq, offset) in enumerate(zip(slices, sq_diffs, OFFSETS, strict=True)):
        relaxed = band[src] & band[dst]
        weights[d][src] = lam * np.exp(-gamma * sq) / np.hypot(*offset) * ~relaxed
    return weights


def pairwise_lambda(shape: tuple[int, int], cfg: dict) -> float:
    """lambda at this resolution: `pairwise_weight` holds at `pairwise_reference_side` pixels.

    Unaries add up over a region's area and the Potts term over its outline, so shrinking a
    frame s times weakens the unaries s times more than the smoothness; scaling lambda with the
    frame's side keeps the labelling the same at any inference resolution.
    """
    reference = cfg["pairwise_reference_side"]
    if reference == 0:
        return cfg["pairwise_weight"]
    return cfg["pairwise_weight"] * min(shape) / reference


def mask_prior_costs(masks: np.ndarray, label_set, cfg: dict) -> np.ndarray:
    """Cost of disagreeing with the motion mask, (B, L, H, W): a choice, not the paper's energy.

    A label that disagrees with pixel i's motion mask (background inside it, an object outside)
    costs `mask_prior` x min(1, d_i / ramp), d_i the pixel's distance to the mask's boundary and
    ramp = `mask_prior_ramp` x the frame's shorter side (0: the full cost everywhere). The
    mask is thus held where it is far from its outline and free near it, where colour, the
    network and the contrast decide; 0 = the paper (the mask enters through the colour models
    only).
    """
    masks = np.asarray(masks) > 0
    costs = np.zeros((len(masks), len(label_set), *masks.shape[1:]))
    if cfg["mask_prior"] <= 0:
        return costs
    ramp = cfg["mask_prior_ramp"] * min(masks.shape[1:])
    for b, mask in enumerate(masks):
        inside = mask.astype(np.uint8)
        # Distance to the nearest pixel of the other side (frame border not a boundary).
        if inside.all() or not inside.any():
            distance = np.full(mask.shape, np.inf)
        else:
            distance = np.where(
                mask,
                cv2.distanceTransform(inside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE),
                cv2.distanceTransform(1 - inside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE),
            )
        weight = cfg["mask_prior"] * (np.minimum(1.0, distance / ramp) if ramp > 0 else 1.0)
        costs[b, 0] = weight * mask
        costs[b, 1:] = weight * ~mask
    return costs


def network_costs(probs: np.ndarray, floor: float) -> np.ndarray:
    """-log p with p clipped to `floor`, so that a probability of exactly 0 stays finite."""
    return -np.log(np.maximum(np.asarray(probs, np.float64), floor))


def unary_costs(colour_nll: np.ndarray, network: np.ndarray, label_set) -> np.ndarray:
    """psi^m + alpha psi^fc for each label of `label_set` (label values, 0 first): (L, H, W).

    `colour_nll` (2, H, W): background and foreground GMM negative log-likelihoods; every
    object label shares the foreground colour model and differs by its network term
    `network` (L, H, W), alpha (-log p) of each label (fixed during a search, so computed once).
    """
    if label_set[0] != 0:
        raise ValueError(f"label_set must start with background 0, got {list(label_set)}")
    unary = network.copy()  # in place from here: no (L, H, W) temporaries
    unary[0] += colour_nll[0]
    unary[1:] += colour_nll[1]
    return unary


def energy(labels: np.ndarray, unary: np.ndarray, weights: np.ndarray) -> float:
    """E(x) of eq. (2) for one frame; `labels` are indices into the unary's first axis."""
    total = float(np.take_along_axis(unary, labels[None], 0).sum())
    for d, offset in enumerate(OFFSETS):
        src, dst = edge_slices(offset, labels.shape)
        total += float(weights[d][src][labels[src] != labels[dst]].sum())
    return total
