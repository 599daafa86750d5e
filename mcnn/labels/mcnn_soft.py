"""M-CNN label inference with motion segments as soft constraints (paper section 3.2).

E(x) = sum_i psi^m_i(z_i) + alpha (-log p_i^{x_i}) + sum_ij psi_ij(x_i, x_j) per frame, minimised
GrabCut-style: cut (graph cut for one tag, alpha-expansion over {0} + tags otherwise), then
re-estimate the colour GMMs from the new labelling, `iterations` times.

Colour models. Frame t has its own background and foreground GMMs, fitted to the pixels of all
frames s of the batch with weight (1 + |t - s|)^-temporal_power (s, t = positions in the batch,
whose frames are sampled uniformly from the shot). The fits run on a colour histogram
(`colour_bits` per channel; a bin is one sample at its centre colour, weighted by its pixel
count), which makes a fit independent of the frame size; the within-bin variance is added back
to each covariance. A
model with fewer than `gmm_min_pixels` pixels in the whole batch (an empty or a full motion mask)
is a uniform density on the RGB cube, i.e. a zero cost for every pixel.

Monotonicity. The energy of a labelling is eq. (2) with the colour models re-estimated from
that labelling (each GMM has a fixed seed, so this is a function of the labels alone). A cut
minimises the energy for the current models, but the re-estimated models maximise a temporally
weighted likelihood rather than frame t's own energy, so a cut can, rarely, raise it: the search
then stops and keeps the previous labelling, as it does when a cut changes nothing. The
recorded energies therefore never increase.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mcnn.core import gmm
from mcnn.labels.energy import (
    band_radius,
    boundary_band,
    energy,
    pairwise_weights,
    unary_costs,
)
from mcnn.labels.graphcut import BinaryGridCut, ExpansionGrid, grid_workspace
from mcnn.labels.hard import hard_labels


@dataclass(frozen=True)
class SoftInference:
    """Labels uint8 (B, H, W) and the batch energy after initialisation and each iteration."""

    labels: np.ndarray
    energies: list[float]


class _ColourHistogram:
    """Colour-bin index of every pixel of the batch; a bin stands for its centre colour."""

    def __init__(self, frames: np.ndarray, bits: int):
        quantised = (np.asarray(frames) >> (8 - bits)).astype(np.int64)
        self.n_bins = 1 << (3 * bits)
        self.bins = (quantised[..., 0] << (2 * bits)) | (quantised[..., 1] << bits)
        self.bins |= quantised[..., 2]
        levels = (np.arange(1 << bits) + 0.5) * (1 << (8 - bits)) / 255.0
        self.centres = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), -1).reshape(
            -1, 3
        )
        self.bin_variance = ((1 << (8 - bits)) / 255.0) ** 2 / 12.0
        self._flat = (np.arange(len(frames))[:, None, None] * self.n_bins + self.bins).ravel()
        self.all_counts = self.counts(np.ones(self.bins.shape, bool))

    def counts(self, select: np.ndarray) -> np.ndarray:
        """Pixel counts (B, n_bins) of the selected pixels of each frame."""
        size = self.bins.shape[0] * self.n_bins
        return np.bincount(self._flat[select.ravel()], minlength=size).reshape(-1, self.n_bins)

    def frame_nll(self, frame: int, model: gmm.GaussianMixture | None) -> np.ndarray:
        """Per-pixel -log p of frame `frame` under `model` (None = uniform: zeros), (H, W)."""
        if model is None:
            return np.zeros(self.bins.shape[1:])
        occupied = np.flatnonzero(self.all_counts[frame])
        table = np.zeros(self.n_bins)
        table[occupied] = model.nll(self.centres[occupied])
        return table[self.bins[frame]]


def _temporal_weights(batch: int, power: float) -> np.ndarray:
    position = np.arange(batch)
    return (1.0 + np.abs(position[:, None] - position[None])) ** -power


def _fit_side(hist, counts, temporal, n_components, seeds, cfg) -> list:
    """One GMM per frame from per-frame bin `counts` (None when there are too few pixels)."""
    if counts.sum() < cfg["gmm_min_pixels"]:
        return [None] * len(temporal)
    occupied = np.flatnonzero(counts.sum(0))
    mass = temporal @ counts[:, occupied]  # (B, n_occupied): weight of each bin for frame t
    models = []
    for t, seed in enumerate(seeds):
        fitted = gmm.fit(
            hist.centres[occupied],
            mass[t],
            n_components,
            covariance="full",
            iterations=cfg["gmm_em_iterations"],
            seed=int(seed),
        )
        covariances = fitted.covariances + hist.bin_variance * np.eye(3)
        models.append(gmm.GaussianMixture(fitted.weights, fitted.means, covariances, "full"))
    return models


def infer_mcnn(
    frames: np.ndarray,
    masks: np.ndarray,
    probs: np.ndarray,
    tags,
    cfg: dict,
    alpha: float,
    rng: np.random.Generator,
) -> SoftInference:
    """Minimise eq. (2) for every frame of a batch; see the module docstring."""
    label_set = np.array([0, *sorted(tags)])
    masks = (np.asarray(masks) > 0).astype(np.uint8)
    batch, height, width = masks.shape
    if len(label_set) == 1:
        return SoftInference(np.zeros((batch, height, width), np.uint8), [])
    hist = _ColourHistogram(frames, cfg["colour_bits"])
    radius = band_radius((height, width), cfg)
    weights = [
        pairwise_weights(frames[b] / 255.0, boundary_band(masks[b], radius), cfg)
        for b in range(batch)
    ]
    temporal = _temporal_weights(batch, cfg["temporal_power"])
    seeds = rng.integers(0, 2**31, size=(2, batch))

    def fit_models(labels: np.ndarray) -> list[tuple]:
        fg_counts = hist.counts(labels > 0)
        bg_counts = hist.all_counts - fg_counts
        bg = _fit_side(hist, bg_counts, temporal, cfg["bg_components"], seeds[0], cfg)
        fg = _fit_side(hist, fg_counts, temporal, cfg["fg_components"], seeds[1], cfg)
        return list(zip(bg, fg, strict=True))

    def frame_unary(b: int, models: tuple) -> np.ndarray:
        colour_nll = np.stack([hist.frame_nll(b, model) for model in models])
        return unary_costs(colour_nll, probs[b], label_set, alpha, cfg["prob_floor"])

    def batch_unaries(labels: np.ndarray) -> list[np.ndarray]:
        return [frame_unary(b, models) for b, models in enumerate(fit_models(labels))]

    def batch_energy(labels: np.ndarray, unaries: list[np.ndarray]) -> float:
        return sum(energy(labels[b], unaries[b], weights[b]) for b in range(batch))

    # Labels are indices into label_set until the end; start from the hard assignment.
    labels = np.searchsorted(label_set, hard_labels(masks, probs, tags)).astype(np.intp)
    unaries = batch_unaries(labels)
    energies = [batch_energy(labels, unaries)]
    # One tag: the pairwise terms never change, so each frame keeps its graph between cuts.
    # Several tags: the frames' expansion moves take turns in one graph.
    if len(label_set) == 2:
        cuts = [BinaryGridCut(w) for w in weights]
    else:
        workspace = grid_workspace((height, width))
        grids = [ExpansionGrid(w, workspace) for w in weights]
    for _ in range(cfg["iterations"]):
        proposal = np.empty_like(labels)
        for b in range(batch):
            if len(label_set) == 2:
                proposal[b] = cuts[b].solve(unaries[b][0], unaries[b][1])
            else:
                proposal[b] = grids[b].expand(unaries[b], labels[b], cfg["expansion_cycles"])
        if np.array_equal(proposal, labels):
            break
        proposal_unaries = batch_unaries(proposal)
        proposal_energy = batch_energy(proposal, proposal_unaries)
        if proposal_energy > energies[-1]:
            break
        labels, unaries = proposal, proposal_unaries
        energies.append(proposal_energy)
    return SoftInference(label_set[labels].astype(np.uint8), energies)
