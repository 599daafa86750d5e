"""The fast expansion moves give the same labels as the first, straightforward construction.

`_reference_move` is the previous implementation (asymmetric edges B + C - A with unary
corrections, a fresh `add_grid_edges` graph per move). Both describe the same binary energy and
maxflow returns its smallest minimising switch set, so the labels agree, ties included.
"""

import maxflow
import numpy as np
import pytest

from mcnn.labels import energy, graphcut


def _reference_move(unary, labels, alpha, weights):
    cost0 = np.take_along_axis(unary, labels[None], 0)[0].copy()
    cost1 = unary[alpha].copy()
    caps = np.zeros_like(weights)
    for d, offset in enumerate(energy.OFFSETS):
        src, dst = energy.edge_slices(offset, labels.shape)
        w, li, lj = weights[d][src], labels[src], labels[dst]
        keep_keep = w * (li != lj)
        keep_switch = w * (li != alpha)
        switch_keep = w * (lj != alpha)
        caps[d][src] = keep_switch + switch_keep - keep_keep
        cost1[src] += switch_keep - keep_keep
        cost1[dst] -= switch_keep
    graph = maxflow.Graph[float]()
    nodes = graph.add_grid_nodes(labels.shape)
    for d_caps, offset in zip(caps, energy.OFFSETS, strict=True):
        structure = np.zeros((3, 3))
        structure[1 + offset[0], 1 + offset[1]] = 1
        graph.add_grid_edges(nodes, weights=d_caps, structure=structure, symmetric=False)
    base = np.minimum(cost0, cost1)
    graph.add_grid_tedges(nodes, cost1 - base, cost0 - base)
    graph.maxflow()
    return np.where(graph.get_grid_segments(nodes), alpha, labels)


def _problem(rng, n_labels, shape, smooth):
    unary = rng.uniform(0, 4, (n_labels, *shape))
    weights = rng.uniform(0, smooth, (4, *shape))
    weights[:, rng.random(shape) < 0.1] = 0  # relaxed (Delta) pairs
    for d, offset in enumerate(energy.OFFSETS):
        valid = np.zeros(shape, bool)
        valid[energy.edge_slices(offset, shape)[0]] = True
        weights[d][~valid] = 0
    # blobs rather than noise, as the GrabCut iterations leave them
    labels = rng.integers(0, n_labels, (shape[0] // 4 + 1, shape[1] // 4 + 1))
    labels = np.kron(labels, np.ones((4, 4), int))[: shape[0], : shape[1]]
    return unary, weights, labels


@pytest.mark.parametrize("seed", range(12))
def test_moves_match_the_reference_construction(seed):
    rng = np.random.default_rng(seed)
    n_labels = 2 + seed % 3
    unary, weights, labels = _problem(rng, n_labels, (17 + seed, 23), smooth=1 + seed % 4)
    grid = graphcut.ExpansionGrid(weights)
    for alpha in range(n_labels):
        fast = grid.move(unary, labels, alpha)
        np.testing.assert_array_equal(fast, _reference_move(unary, labels, alpha, weights))
        assert energy.energy(fast, unary, weights) <= energy.energy(labels, unary, weights) + 1e-9


def test_ties_and_a_labelling_at_alpha_everywhere():
    rng = np.random.default_rng(0)
    _, weights, labels = _problem(rng, 3, (12, 12), smooth=2)
    unary = np.ones((3, 12, 12))  # every labelling has the same unary cost
    grid = graphcut.ExpansionGrid(weights)
    for alpha in range(3):
        expected = _reference_move(unary, labels, alpha, weights)
        np.testing.assert_array_equal(grid.move(unary, labels, alpha), expected)
    everywhere = np.zeros((12, 12), int)
    np.testing.assert_array_equal(grid.move(unary, everywhere, 0), everywhere)


def test_expansion_with_a_shared_workspace_matches_the_reference_cycles():
    rng = np.random.default_rng(3)
    workspace = graphcut.grid_workspace((20, 20))
    for _ in range(3):
        unary, weights, labels = _problem(rng, 3, (20, 20), smooth=2)
        expected = labels.copy()
        for _cycle in range(3):
            before = expected.copy()
            for alpha in range(3):
                expected = _reference_move(unary, expected, alpha, weights)
            if np.array_equal(before, expected):
                break
        fast = graphcut.ExpansionGrid(weights, workspace).expand(unary, labels, cycles=3)
        np.testing.assert_array_equal(fast, expected)
