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

Acceptance, per frame. The energy of a frame's labelling is its eq. (2) with the colour models
re-estimated from the batch's labelling (each GMM has a fixed seed, so this is a function of the
labels alone). A cut minimises each frame's energy for the current models, but the re-estimated
models maximise a temporally weighted likelihood rather than frame t's own energy, so a cut can
raise it. Each iteration therefore cuts every frame, re-estimates the models from all the cuts,
and keeps a frame's cut only where its energy does not rise; the others keep their labelling
(and the models are re-estimated from the mix). A frame whose every cut was refused is returned
with its motion-mask labels: it *fell back* to 'M-CNN* hard', which `SoftInference.fell_back`
records (training logs the share). The search ends after `iterations` iterations or when no
frame changes.

Several tags: after the first iteration, the expansion moves run only near the current label
changes (`expansion_band`, a choice, not the paper's: faster, and on real frames the whole-frame
moves of later iterations mostly let the labels spread into background of the object's colours).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from mcnn.core import gmm
from mcnn.labels.energy import (
    band_radius,
    boundary_band,
    energy,
    label_edges,
    mask_prior_costs,
    network_costs,
    pairwise_weights,
    unary_costs,
)
from mcnn.labels.graphcut import BandSolver, BinaryGridCut, ExpansionGrid, grid_workspace
from mcnn.labels.hard import hard_labels


@dataclass(frozen=True)
class SoftInference:
    """The labels of a batch and how the search went, frame by frame.

    `labels` uint8 (B, H, W); `energies` (n + 1, B): each frame's energy after initialisation
    and after each of the n iterations run; `accepted` (B,) int: iterations whose cut the frame
    kept; `fell_back` (B,) bool: every cut that changed the frame raised its energy, so it kept
    its initial motion-mask labels.
    """

    labels: np.ndarray
    energies: np.ndarray
    accepted: np.ndarray
    fell_back: np.ndarray


class _ColourHistogram:
    """Colour-bin index of every pixel of the batch; a bin stands for its centre colour."""

    def __init__(self, frames: np.ndarray, bits: int):
        quantised = (np.asarray(frames) >> (8 - bits)).astype(np.int64)
        bins = (quantised[..., 0] << (2 * bits)) | (quantised[..., 1] << bits) | quantised[..., 2]
        levels = (np.arange(1 << bits) + 0.5) * (1 << (8 - bits)) / 255.0
        centres = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), -1).reshape(-1, 3)
        self.bin_variance = ((1 << (8 - bits)) / 255.0) ** 2 / 12.0
        # Only the bins some pixel of the batch falls in matter: renumber them 0..n-1 (in bin
        # order, as np.unique would, by a look-up table instead of a sort of every pixel).
        present = np.flatnonzero(np.bincount(bins.ravel(), minlength=len(centres)))
        renumber = np.zeros(len(centres), np.int64)
        renumber[present] = np.arange(len(present))
        self.bins = renumber[bins]
        self.centres = centres[present]
        self._flat = (np.arange(len(frames))[:, None, None] * len(present) + self.bins).ravel()
        self.all_counts = self.counts(np.ones(self.bins.shape, bool))

    def counts(self, select: np.ndarray) -> np.ndarray:
        """Pixel counts (B, n_bins) of the selected pixels of each frame."""
        n_bins = len(self.centres)
        size = self.bins.shape[0] * n_bins
        return np.bincount(self._flat[select.ravel()], minlength=size).reshape(-1, n_bins)

    def pixel_nll(self, models: gmm.GaussianMixtures) -> np.ndarray:
        """Per-pixel -log p of every frame b under `models`' b-th mixture, (B, H, W)."""
        table = models.nll(self.centres)  # (B, n_bins)
        flat = self.bins.reshape(len(table), -1)
        return np.take_along_axis(table, flat, 1).reshape(self.bins.shape)


def _temporal_weights(batch: int, power: float) -> np.ndarray:
    position = np.arange(batch)
    return (1.0 + np.abs(position[:, None] - position[None])) ** -power


def _side_nll(hist, counts, temporal, n_components, seeds, cfg) -> np.ndarray:
    """-log p (B, H, W) of every pixel under its frame's GMM of one side, fitted to the
    per-frame bin `counts` of that side; zeros (a uniform density) when too few pixels."""
    if counts.sum() < cfg["gmm_min_pixels"]:
        return np.zeros(hist.bins.shape)
    occupied = np.flatnonzero(counts.sum(0))
    mass = temporal @ counts[:, occupied]  # (B, n_occupied): weight of each bin for frame t
    fitted = gmm.fit_batch(
        hist.centres[occupied],
        mass,
        n_components,
        covariance="full",
        iterations=cfg["gmm_em_iterations"],
        seeds=seeds,
    )
    models = replace(fitted, covariances=fitted.covariances + hist.bin_variance * np.eye(3))
    return hist.pixel_nll(models)


def infer_mcnn(
    frames: np.ndarray,
    masks: np.ndarray,
    probs: np.ndarray,
    tags,
    cfg: dict,
    alpha: float,
    rng: np.random.Generator,
) -> SoftInference:
    """Minimise eq. (2) for every frame of a batch; see the module docstring.

    Frames whose shorter side exceeds `cfg["coarse_side"]` (when > 0) are labelled coarse to
    fine (`coarse_to_fine`); the result is the same search's record either way.
    """
    tags = distinct_tags(probs, tags, alpha, cfg["prob_floor"])
    label_set = np.array([0, *tags])
    masks = (np.asarray(masks) > 0).astype(np.uint8)
    batch, height, width = masks.shape
    if len(label_set) == 1:
        empty = np.zeros((batch, height, width), np.uint8)
        return SoftInference(
            empty, np.zeros((1, batch)), np.zeros(batch, int), np.zeros(batch, bool)
        )
    if 0 < cfg["coarse_side"] < min(height, width):
        from mcnn.labels.coarse_to_fine import coarse_to_fine

        return coarse_to_fine(frames, masks, probs, tags, cfg, alpha, rng)
    start = np.searchsorted(label_set, hard_labels(masks, probs, tags)).astype(np.intp)
    return search(frames, masks, probs, label_set, start, None, cfg, alpha, rng, cfg["iterations"])


def distinct_tags(probs: np.ndarray, tags, alpha: float, floor: float) -> list[int]:
    """The sorted tags less those whose unary costs equal a lower tag's at every pixel.

    Object labels share the foreground colour model, so two tags whose network terms are equal
    throughout the batch (alpha 0, as at the start of an alpha ramp, or a uniform network) have
    equal unaries. Then for any labelling, giving the higher tag's pixels to the lower one keeps
    every unary and removes Potts costs between the two: the best labelling uses the lower tag
    alone, which one graph cut finds exactly (alpha-expansion over both would at best reach the
    same energy, at the cost of a move per label per iteration). Ties go to the lower label, as
    in `hard_labels`.
    """
    tags = sorted(tags)
    if alpha == 0:
        return tags[:1]
    clipped = np.maximum(np.asarray(probs)[:, tags], floor)
    kept = []
    for k, tag in enumerate(tags):
        if not any(np.array_equal(clipped[:, k], clipped[:, tags.index(t)]) for t in kept):
            kept.append(tag)
    return kept


def search(
    frames: np.ndarray,
    masks: np.ndarray,
    probs: np.ndarray,
    label_set: np.ndarray,
    start: np.ndarray,
    free: np.ndarray | None,
    cfg: dict,
    alpha: float,
    rng: np.random.Generator,
    iterations: int,
) -> SoftInference:
    """The GrabCut-style search from `start` (indices into `label_set`, (B, H, W)).

    `free` (B, H, W) bool: only these pixels may change (None: all); the others keep their
    `start` label and act on their free neighbours through the Potts term. `fell_back` then
    means a frame kept its `start` labels.
    """
    batch, height, width = masks.shape
    hist = _ColourHistogram(frames, cfg["colour_bits"])
    radius = band_radius((height, width), cfg)
    weights = [
        pairwise_weights(frames[b] / 255.0, boundary_band(masks[b], radius), cfg)
        for b in range(batch)
    ]
    temporal = _temporal_weights(batch, cfg["temporal_power"])
    seeds = rng.integers(0, 2**31, size=(2, batch))
    # The unary terms that stay fixed during the search: the network's and the mask prior's.
    network = alpha * network_costs(probs[:, label_set], cfg["prob_floor"])
    network += mask_prior_costs(masks, label_set, cfg)

    def unaries_of(labels: np.ndarray) -> list[np.ndarray]:
        """Each frame's unary costs under the colour models re-estimated from `labels`."""
        fg_counts = hist.counts(labels > 0)
        bg_counts = hist.all_counts - fg_counts
        bg = _side_nll(hist, bg_counts, temporal, cfg["bg_components"], seeds[0], cfg)
        fg = _side_nll(hist, fg_counts, temporal, cfg["fg_components"], seeds[1], cfg)
        return [unary_costs(np.stack([bg[b], fg[b]]), network[b], label_set) for b in range(batch)]

    def energies_of(labels: np.ndarray, unaries: list[np.ndarray]) -> np.ndarray:
        return np.array([energy(labels[b], unaries[b], weights[b]) for b in range(batch)])

    labels = start  # indices into label_set until the end
    unaries = unaries_of(labels)
    energies = [energies_of(labels, unaries)]
    accepted = np.zeros(batch, int)
    refused = np.zeros(batch, bool)
    # A restricted search: each frame's band has a small graph of its own. One tag: the pairwise
    # terms never change, so each frame keeps its graph between cuts. Several tags: the frames'
    # expansion moves take turns in one graph.
    if free is not None:
        bands = [
            BandSolver(w, f, s, len(label_set))
            for w, f, s in zip(weights, free, start, strict=True)
        ]
    elif len(label_set) == 2:
        cuts = [BinaryGridCut(w) for w in weights]
    else:
        workspace = grid_workspace((height, width))
        grids = [ExpansionGrid(w, workspace) for w in weights]
    band = cfg["expansion_band"] if free is None and len(label_set) > 2 else 0
    for iteration in range(iterations):
        proposal = np.empty_like(labels)
        for b in range(batch):
            if free is not None:
                proposal[b] = bands[b].solve(unaries[b], labels[b], cfg["expansion_cycles"])
            elif band and iteration > 0:
                near = BandSolver(
                    weights[b], label_edges(labels[b], band), labels[b], len(label_set)
                )
                proposal[b] = near.solve(unaries[b], labels[b], cfg["expansion_cycles"])
            elif len(label_set) == 2:
                proposal[b] = cuts[b].solve(unaries[b][0], unaries[b][1])
            else:
                proposal[b] = grids[b].expand(unaries[b], labels[b], cfg["expansion_cycles"])
        changed = (proposal != labels).reshape(batch, -1).any(1)
        if not changed.any():
            break
        proposal_unaries = unaries_of(proposal)
        proposal_energies = energies_of(proposal, proposal_unaries)
        keep = changed & (proposal_energies <= energies[-1])
        refused |= changed & ~keep
        if not keep.any():
            break  # nothing changes, so the next cuts would be the same ones
        accepted += keep
        if np.array_equal(keep, changed):  # the proposal is the new labelling
            labels, unaries = proposal, proposal_unaries
            energies.append(proposal_energies)
        else:
            labels = np.where(keep[:, None, None], proposal, labels)
            unaries = unaries_of(labels)
            energies.append(energies_of(labels, unaries))
    fell_back = refused & (accepted == 0)
    return SoftInference(
        label_set[labels].astype(np.uint8), np.stack(energies), accepted, fell_back
    )
