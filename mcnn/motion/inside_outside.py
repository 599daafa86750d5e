"""Inside-outside maps: which pixels lie inside closed motion-boundary curves (FST section 3.1).

A ray from a pixel inside a closed curve crosses it an odd number of times. Rays are cast in 8
directions; every direction with an odd number of crossings is one vote. Crossings along all
rays of all pixels come from cumulative sums along rows, columns and diagonals ("integral
intersections"), so a whole frame costs a few array passes.
"""

from __future__ import annotations

import cv2
import numpy as np

from mcnn.motion.boundaries import flow_gradient_magnitude, max_neighbour_angle, motion_boundaries


def remove_border_curves(boundary: np.ndarray, band: int, mode: str = "curves") -> np.ndarray:
    """Drop the boundary curves (8-connected components) that reach within `band` px of the border.

    Such curves are usually open (an object cut by the frame edge, or flow artefacts at the
    border) and would make every ray count wrong. FST's release drops them whole (its
    `cleanBoundaries` spreads the removal from the band along the curve). With `mode`
    "pixels", only the boundary pixels inside the band go: a curve cut by the frame edge then
    stays, and the majority vote over the 8 rays still finds an object touching one side
    (the rays towards the open side vote out, the others in).
    """
    if mode == "pixels":
        kept = boundary.astype(bool).copy()
        width = max(band, 1)
        kept[:width] = kept[-width:] = False
        kept[:, :width] = kept[:, -width:] = False
        return kept
    n, labels = cv2.connectedComponents(boundary.astype(np.uint8), connectivity=8)
    if n <= 1:
        return boundary.astype(bool)
    width = max(band, 1)
    edge = np.ones(labels.shape, bool)
    edge[width:-width, width:-width] = False
    touching = np.zeros(n, bool)
    touching[labels[edge]] = True
    touching[0] = True  # label 0 is the non-boundary area
    return ~touching[labels]


def _odd_crossings_both_ways(boundary: np.ndarray, direction: tuple[int, int]) -> np.ndarray:
    """(H, W) uint8 0..2: how many of the two rays from each pixel along `direction` -- +x and
    -x for (0, 1), +y and -y for (1, 0), +x+y and -x-y for (1, 1) -- cross the boundary an odd
    number of times. Meaningful for non-boundary pixels (the only ones inside_map keeps).

    A crossing is a 0 -> 1 transition met while travelling along the ray; the pixel itself does
    not count. Towards +: the runs starting after the pixel. Towards -: the runs ending before
    it, which for a pixel off the boundary are the runs starting before it. Both come from one
    cumulative sum of the run starts along the line. Counted in uint8, i.e. modulo 256: only
    the parity is used, and it survives the wrap-around (4x less memory traffic than int32).
    """
    b = boundary.astype(np.uint8)
    previous = np.zeros_like(b)  # the pixel one step back along the line, 0 outside the image
    dy, dx = direction
    previous[dy:, dx:] = b[: b.shape[0] - dy, : b.shape[1] - dx]
    starts = b * (1 - previous)
    if direction == (1, 1):
        # Lay the rows out with h zeros after each (width w + h): the diagonal successor of a
        # pixel is then always w + h + 1 further in the flat buffer, so reading that buffer
        # as rows of w + h + 1 turns every diagonal into a column of its own (column index
        # (col - row) mod (w + h + 1)). Contiguous, no gathers.
        h, w = b.shape
        width = w + h
        padded = np.zeros((h, width), np.uint8)
        padded[:, :w] = starts
        flat = np.zeros(-(-h * width // (width + 1)) * (width + 1), np.uint8)
        flat[: h * width] = padded.ravel()
        odd = _odd_both_ways(flat.reshape(-1, width + 1), axis=0).ravel()
        return odd[: h * width].reshape(h, width)[:, :w]
    return _odd_both_ways(starts, axis=1 if direction == (0, 1) else 0)


def _odd_both_ways(starts: np.ndarray, axis: int) -> np.ndarray:
    """Per position: [odd count of starts strictly after] + [odd count strictly before]."""
    upto = np.cumsum(starts, axis, dtype=starts.dtype)  # starts at or before the position
    total = np.take(upto, [-1], axis)
    return ((total - upto) & 1) + ((upto - starts) & 1)


def inside_votes(boundary: np.ndarray) -> np.ndarray:
    """(H, W) count (0..8) of the directions whose ray crosses the boundary an odd number of
    times, for pixels off the boundary (boundary pixels get a count, not a meaningful one).

    The crossings along a ray are a sum over the line beyond the pixel, so all pixels are done
    at once with one cumulative sum per line direction; the anti-diagonals are the diagonals of
    the image flipped left to right.
    """
    votes = np.zeros(boundary.shape, np.uint8)
    for direction in ((0, 1), (1, 0), (1, 1)):
        votes += _odd_crossings_both_ways(boundary, direction)
    votes += np.flip(_odd_crossings_both_ways(np.flip(boundary, 1), (1, 1)), 1)
    return votes


def remove_short_curves(boundary: np.ndarray, min_pixels: int) -> np.ndarray:
    """Drop the boundary curves (8-connected components) of fewer than `min_pixels` pixels.

    Ripples and texture give short open fragments; a ray that runs along one counts a crossing,
    so many fragments streak the inside map with false votes. A closed outline of an object is
    long.
    """
    if min_pixels <= 1:
        return boundary.astype(bool)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(
        boundary.astype(np.uint8), connectivity=8
    )
    keep = stats[:, cv2.CC_STAT_AREA] >= min_pixels
    keep[0] = False  # label 0 is the non-boundary area
    return keep[labels]


def inside_map(boundary: np.ndarray, cfg: dict) -> np.ndarray:
    """(H, W) bool: pixels inside the closed boundary curves; boundary pixels are outside."""
    cleaned = remove_border_curves(boundary, cfg["border_band"], cfg["border_removal"])
    cleaned = remove_short_curves(cleaned, cfg["min_curve_pixels"])
    return (inside_votes(cleaned) > cfg["inside_votes"]) & ~cleaned


def frame_quality(inside: np.ndarray) -> float:
    """Compactness of the inside region: area / (spatial variance)^2.

    Coordinates are normalised to [0, 1] on both axes (so the value does not depend on the
    resolution; the threshold in the settings assumes this); an empty map scores 0.
    """
    ys, xs = np.nonzero(inside)
    if len(ys) == 0:
        return 0.0
    h, w = inside.shape
    variance = np.var(ys / h) + np.var(xs / w)
    area = len(ys) / (h * w)
    return float(area / max(variance, 1e-12) ** 2)


def inside_outside(
    flow: np.ndarray, cfg: dict, gradient: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Inside-outside map of one frame from its flow, with FST's quality-driven recalibration.

    Returns (inside (H, W) bool, motion-boundary strength (H, W) float32) of the gradient
    constant that gave the best-quality map. When the default constant's map scores below
    `cfg["min_quality"]`, every constant of `cfg["recalibration_constants"]` is tried.
    `gradient`: the flow's `flow_gradient_magnitude`, if already computed.
    """
    if gradient is None:
        gradient = flow_gradient_magnitude(flow)
    terms = (gradient, max_neighbour_angle(flow))
    strength = motion_boundaries(flow, cfg, terms=terms)
    inside = inside_map(strength > cfg["boundary_threshold"], cfg)
    quality = frame_quality(inside)
    if quality >= cfg["min_quality"]:
        return inside, strength
    for constant in cfg["recalibration_constants"]:
        candidate_strength = motion_boundaries(flow, cfg, constant, terms)
        candidate = inside_map(candidate_strength > cfg["boundary_threshold"], cfg)
        candidate_quality = frame_quality(candidate)
        if candidate_quality > quality:
            inside, strength, quality = candidate, candidate_strength, candidate_quality
    return inside, strength
