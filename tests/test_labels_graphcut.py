"""Grid cuts, expansion moves and the energy terms, checked against brute force."""

import itertools

import numpy as np
import pytest
from conftest import random_potts_problem

from mcnn.labels import energy, graphcut


def _all_labellings(n_labels, shape):
    for values in itertools.product(range(n_labels), repeat=int(np.prod(shape))):
        yield np.array(values).reshape(shape)


@pytest.mark.parametrize("seed", range(4))
def test_binary_cut_is_the_global_minimum(seed):
    unary, weights = random_potts_problem(np.random.default_rng(seed), 2)
    best = min(energy.energy(x, unary, weights) for x in _all_labellings(2, (3, 3)))
    cut = graphcut.binary_cut(unary[0], unary[1], weights).astype(int)
    assert energy.energy(cut, unary, weights) == pytest.approx(best)


@pytest.mark.parametrize("seed", range(4))
def test_expansion_move_is_the_best_labelling_within_the_move(seed):
    rng = np.random.default_rng(seed)
    unary, weights = random_potts_problem(rng, 3)
    current = rng.integers(0, 3, (3, 3))
    alpha = 1
    best = min(
        energy.energy(np.where(switch == 1, alpha, current), unary, weights)
        for switch in _all_labellings(2, (3, 3))
    )
    moved = graphcut.expansion_move(unary, current, alpha, weights)
    assert set(np.unique(moved)) <= {*np.unique(current), alpha}
    assert energy.energy(moved, unary, weights) == pytest.approx(best)
    expanded = graphcut.alpha_expansion(unary, weights, current, cycles=3)
    assert energy.energy(expanded, unary, weights) <= energy.energy(moved, unary, weights) + 1e-9


def test_dynamic_cut_matches_fresh_cuts_as_costs_change():
    rng = np.random.default_rng(7)
    weights = rng.uniform(0, 2, (4, 30, 30))
    cut = graphcut.BinaryGridCut(weights)
    for _ in range(3):
        cost0, cost1 = rng.uniform(-1, 3, (2, 30, 30))
        unary = np.stack([cost0, cost1])
        reused = cut.solve(cost0, cost1).astype(int)
        fresh = graphcut.binary_cut(cost0, cost1, weights).astype(int)
        assert energy.energy(reused, unary, weights) == pytest.approx(
            energy.energy(fresh, unary, weights)
        )


def test_boundary_band_follows_the_mask_edge_only():
    assert not energy.boundary_band(np.zeros((20, 20)), 2).any()
    assert not energy.boundary_band(np.ones((20, 20)), 2).any()
    mask = np.zeros((20, 20), np.uint8)
    mask[:, :10] = 1
    band = energy.boundary_band(mask, 2)
    assert band[:, 8:12].all() and not band[:, :7].any() and not band[:, 13:].any()


def test_pairwise_weights_follow_colour_contrast_and_the_band(default_config):
    cfg = {**default_config["labels"], "pairwise_reference_side": 6}  # lambda holds at 6 px
    colours = np.zeros((6, 6, 3))
    colours[:, 3:] = 1.0  # a vertical colour edge between columns 2 and 3
    band = np.zeros((6, 6), bool)
    weights = energy.pairwise_weights(colours, band, cfg)
    right = weights[0]
    assert right[0, 0] == pytest.approx(cfg["pairwise_weight"])
    # 110 pairs, of which 6 horizontal and 2 x 5 diagonal cross the edge with ||dz||^2 = 3
    gamma = cfg["gamma"] / (16 * 3 / 110)
    assert right[0, 2] == pytest.approx(cfg["pairwise_weight"] * np.exp(-3 * gamma))
    assert weights[2][0, 0] == pytest.approx(cfg["pairwise_weight"] / np.sqrt(2))
    assert right[:, 5].max() == 0 and weights[1][5].max() == 0  # no neighbour outside
    band[:, :2] = True
    relaxed = energy.pairwise_weights(colours, band, cfg)
    assert relaxed[0][0, 0] == 0 and relaxed[0][0, 1] == weights[0][0, 1]


def test_lambda_scales_with_the_inference_side(default_config):
    cfg = {**default_config["labels"], "pairwise_weight": 50.0, "pairwise_reference_side": 320}
    assert energy.pairwise_lambda((320, 480), cfg) == pytest.approx(50.0)
    # At the output stride 8 a region has 64x fewer unaries but only 8x fewer edges.
    assert energy.pairwise_lambda((40, 60), cfg) == pytest.approx(50.0 / 8)
    assert energy.pairwise_lambda((40, 60), {**cfg, "pairwise_reference_side": 0}) == 50.0
