"""Coarse-to-fine M-CNN labels: the held-pixel terms, checked by brute force, and the whole
coarse-to-fine search against the full-size one on a large synthetic batch."""

import itertools

import cv2
import numpy as np
import pytest
from conftest import random_potts_problem

from mcnn.labels import energy, graphcut, infer_mcnn
from mcnn.labels.energy import label_edges

K = 11
TAG = 3
SHAPE = (3, 4)


def _labellings_keeping(held_labels, free, n_labels):
    """Every labelling that keeps the held pixels' labels."""
    for values in itertools.product(range(n_labels), repeat=int(free.sum())):
        labels = held_labels.copy()
        labels[free] = values
        yield labels


@pytest.mark.parametrize("seed", range(4))
def test_band_cut_is_the_best_labelling_that_keeps_the_held_pixels(seed):
    rng = np.random.default_rng(seed)
    unary, weights = random_potts_problem(rng, 2, SHAPE)
    start = rng.integers(0, 2, SHAPE)
    free = rng.random(SHAPE) < 0.6
    best = min(energy.energy(x, unary, weights) for x in _labellings_keeping(start, free, 2))
    cut = graphcut.BandSolver(weights, free, start, 2).solve(unary, start, cycles=1)
    np.testing.assert_array_equal(cut[~free], start[~free])
    assert energy.energy(cut, unary, weights) == pytest.approx(best)


@pytest.mark.parametrize("seed", range(4))
def test_band_expansion_move_is_the_best_within_the_move(seed):
    rng = np.random.default_rng(10 + seed)
    unary, weights = random_potts_problem(rng, 3, SHAPE)
    start = rng.integers(0, 3, SHAPE)
    free = rng.random(SHAPE) < 0.6
    alpha = 2
    # the move: any free pixel may switch to alpha, nothing else changes
    best = min(
        energy.energy(np.where(free & (switch == 1), alpha, start), unary, weights)
        for switch in itertools.product((0, 1), repeat=12)
        for switch in [np.array(switch).reshape(SHAPE)]
    )
    band = graphcut.BandSolver(weights, free, start, 3)
    costs = unary[:, free] + band._extra
    moved = start.copy()
    moved[free] = band._move(costs, start[free], alpha)
    np.testing.assert_array_equal(moved[~free], start[~free])
    assert energy.energy(moved, unary, weights) == pytest.approx(best)
    expanded = band.solve(unary, start, cycles=3)
    np.testing.assert_array_equal(expanded[~free], start[~free])
    assert energy.energy(expanded, unary, weights) <= energy.energy(moved, unary, weights) + 1e-9


def test_band_moves_match_the_grid_moves_when_every_pixel_is_free():
    rng = np.random.default_rng(3)
    unary, weights = random_potts_problem(rng, 3, shape=(12, 15))
    start = rng.integers(0, 3, (12, 15))
    band = graphcut.BandSolver(weights, np.ones((12, 15), bool), start, 3)
    grid = graphcut.ExpansionGrid(weights)
    for alpha in range(3):
        expected = grid.move(unary, start, alpha)
        np.testing.assert_array_equal(band._move(unary.reshape(3, -1), start.ravel(), alpha),
                                      expected.ravel())  # fmt: skip


def test_label_edges_mark_both_sides_of_every_change():
    labels = np.zeros((9, 9), np.uint8)
    labels[:, 5:] = 2
    np.testing.assert_array_equal(np.flatnonzero(label_edges(labels, 1).any(0)), [4, 5])
    np.testing.assert_array_equal(np.flatnonzero(label_edges(labels, 2).any(0)), [3, 4, 5, 6])
    assert not label_edges(np.ones((5, 5), np.uint8), 2).any()


def _large_scene(rng, size=160, batch=3):
    """Noisy frames with two objects of their own colours; motion masks shifted and noisy."""
    frames = np.empty((batch, size, size, 3))
    frames[:] = (40, 90, 170)
    truth = np.zeros((batch, size, size), bool)
    for b in range(batch):
        truth[b, 40:120, 30 + 6 * b : 90 + 6 * b] = True
    frames[truth] = (200, 60, 40)
    frames = np.clip(frames + rng.normal(0, 12, frames.shape), 0, 255).astype(np.uint8)
    motion = np.roll(truth, 14, axis=2) ^ (rng.random(truth.shape) < 0.05)
    return frames, motion, truth


@pytest.mark.parametrize("tags", [[TAG], [TAG, 7]])
def test_coarse_to_fine_matches_the_full_search_and_moves_only_near_coarse_edges(
    default_config, tags
):
    frames, motion, truth = _large_scene(np.random.default_rng(0))
    probs = np.full((3, K, 160, 160), 1.0 / K, np.float32)
    probs[:, TAG] = np.where(truth, 0.3, 0.05)
    probs /= probs.sum(1, keepdims=True)
    # The paper's energy, which pulls the shifted masks onto the objects.
    cfg = {**default_config["labels"], "coarse_side": 40, "refine_band": 2, "mask_prior": 0.0}
    fine = infer_mcnn(frames, motion, probs, tags, cfg, 1.0, np.random.default_rng(5))
    full = infer_mcnn(
        frames, motion, probs, tags, {**cfg, "coarse_side": 0}, 1.0, np.random.default_rng(5)
    )
    agree = ((fine.labels > 0) == (full.labels > 0)).mean()
    assert agree > 0.99
    assert ((fine.labels == TAG) & truth).sum() / ((fine.labels == TAG) | truth).sum() > 0.95
    # the coarse search is the same search at 40 px (same generator): only pixels within
    # refine_band coarse pixels (8 px here) of its outlines differ from its labels
    small = [cv2.resize(f, (40, 40), interpolation=cv2.INTER_AREA) for f in frames]
    small_motion = [cv2.resize(m.astype(np.uint8), (40, 40), interpolation=cv2.INTER_NEAREST)
                    for m in motion]  # fmt: skip
    small_probs = np.stack(
        [[cv2.resize(c, (40, 40), interpolation=cv2.INTER_AREA) for c in p] for p in probs]
    )
    coarse = infer_mcnn(
        np.stack(small), np.stack(small_motion), small_probs, tags, cfg, 1.0,
        np.random.default_rng(5),
    )  # fmt: skip
    up = np.stack(
        [cv2.resize(c, (160, 160), interpolation=cv2.INTER_NEAREST) for c in coarse.labels]
    )
    band = np.stack([label_edges(u, 8) for u in up])
    np.testing.assert_array_equal(fine.labels[~band], up[~band])
    assert (fine.labels[band] != up[band]).any()
    np.testing.assert_array_equal(fine.accepted, coarse.accepted)
    again = infer_mcnn(frames, motion, probs, tags, cfg, 1.0, np.random.default_rng(5))
    np.testing.assert_array_equal(fine.labels, again.labels)
