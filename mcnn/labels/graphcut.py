"""Minimum cuts on the 8-neighbour grid with per-edge Potts weights (PyMaxflow).

`maxflow.fastmin.aexpansion_grid` shares one label-cost matrix between all edges and cannot
express contrast-sensitive weights, so each expansion move is built here as one submodular
binary cut with `add_grid_edges` (a weight array per direction) and `add_grid_tedges`.
Convention: a node in the sink segment takes binary label 1 and pays its source capacity.
"""

from __future__ import annotations

import maxflow
import numpy as np

from mcnn.labels.energy import OFFSETS, edge_slices


def _structure(offset: tuple[int, int]) -> np.ndarray:
    structure = np.zeros((3, 3))
    structure[1 + offset[0], 1 + offset[1]] = 1
    return structure


_STRUCTURES = [_structure(offset) for offset in OFFSETS]


def _solve(cost0: np.ndarray, cost1: np.ndarray, edge_caps, symmetric: bool) -> np.ndarray:
    """Minimise sum cost_y + cut edges; returns y as bool (H, W) (True = label 1)."""
    shape = cost0.shape
    graph = maxflow.Graph[float](cost0.size, len(OFFSETS) * cost0.size)
    nodes = graph.add_grid_nodes(shape)
    for caps, structure in zip(edge_caps, _STRUCTURES, strict=True):
        graph.add_grid_edges(nodes, weights=caps, structure=structure, symmetric=symmetric)
    # Only the difference of the two costs matters; keep both capacities non-negative.
    base = np.minimum(cost0, cost1)
    graph.add_grid_tedges(nodes, cost1 - base, cost0 - base)
    graph.maxflow()
    return graph.get_grid_segments(nodes)


class BinaryGridCut:
    """Binary cuts with fixed pairwise weights and changing unary costs.

    The graph is built once; each `solve` changes only the terminal capacities, on the residual
    graph of the previous cut, and continues from its flow (dynamic graph cuts, Kohli and Torr
    2005): across GrabCut-style iterations the colour models change little, so most of the
    flow stays valid.
    """

    def __init__(self, weights: np.ndarray):
        shape = weights.shape[1:]
        self._graph = maxflow.Graph[float](weights[0].size, len(OFFSETS) * weights[0].size)
        self._nodes = self._graph.add_grid_nodes(shape)
        for caps, structure in zip(weights, _STRUCTURES, strict=True):
            self._graph.add_grid_edges(
                self._nodes, weights=caps, structure=structure, symmetric=True
            )
        self._source_caps = np.zeros(shape)
        self._sink_caps = np.zeros(shape)

    def solve(self, cost0: np.ndarray, cost1: np.ndarray) -> np.ndarray:
        """Global minimum of sum_i cost_{y_i}(i) + sum_{ij} w_ij [y_i != y_j]; bool (H, W)."""
        base = np.minimum(cost0, cost1)
        source_caps, sink_caps = cost1 - base, cost0 - base
        # Terminal capacities add up; the difference to the last ones updates the residual.
        self._graph.add_grid_tedges(
            self._nodes, source_caps - self._source_caps, sink_caps - self._sink_caps
        )
        self._source_caps, self._sink_caps = source_caps, sink_caps
        self._graph.maxflow()
        return self._graph.get_grid_segments(self._nodes)


def binary_cut(cost0: np.ndarray, cost1: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Global minimum of sum_i cost_{y_i}(i) + sum_{ij} w_ij [y_i != y_j]; bool (H, W)."""
    return BinaryGridCut(weights).solve(cost0, cost1)


def expansion_move(
    unary: np.ndarray, labels: np.ndarray, alpha: int, weights: np.ndarray
) -> np.ndarray:
    """Best labelling within one alpha-expansion of `labels` (indices into `unary`, (L, H, W)).

    Binary variable y_i = 1 switches pixel i to `alpha`. A Potts pair with weight w costs
    A = w[l_i != l_j] (keep, keep), B = w[l_i != alpha] (keep, switch),
    C = w[alpha != l_j] (switch, keep), 0 (switch, switch); it is written as
    A + (C - A) y_i - C y_j + (B + C - A) (1 - y_i) y_j, a directed edge i -> j of capacity
    B + C - A >= 0 (the triangle inequality of the Potts metric) plus unary changes.
    """
    cost0 = np.take_along_axis(unary, labels[None], 0)[0].copy()
    cost1 = unary[alpha].copy()
    caps = np.zeros_like(weights)
    for d, offset in enumerate(OFFSETS):
        src, dst = edge_slices(offset, labels.shape)
        w, li, lj = weights[d][src], labels[src], labels[dst]
        keep_keep = w * (li != lj)
        keep_switch = w * (li != alpha)
        switch_keep = w * (lj != alpha)
        caps[d][src] = keep_switch + switch_keep - keep_keep
        cost1[src] += switch_keep - keep_keep
        cost1[dst] -= switch_keep
    # A (keep, keep) is a constant of the move and stays out of the cut.
    switch = _solve(cost0, cost1, caps, symmetric=False)
    return np.where(switch, alpha, labels)


def alpha_expansion(
    unary: np.ndarray, weights: np.ndarray, labels: np.ndarray, cycles: int
) -> np.ndarray:
    """Alpha-expansion from `labels`: up to `cycles` passes of one move per label.

    Every move is optimal within its neighbourhood and includes the current labelling, so the
    energy never increases; a pass that changes nothing ends the search.
    """
    labels = labels.copy()
    for _ in range(cycles):
        changed = False
        for alpha in range(len(unary)):
            moved = expansion_move(unary, labels, alpha, weights)
            changed |= bool((moved != labels).any())
            labels = moved
        if not changed:
            break
    return labels
