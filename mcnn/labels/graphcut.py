"""Minimum cuts on the 8-neighbour grid with per-edge Potts weights (PyMaxflow).

`maxflow.fastmin.aexpansion_grid` shares one label-cost matrix between all edges and cannot
express contrast-sensitive weights, so each expansion move is built here as one submodular
binary cut: `ExpansionGrid` (per-edge weight arrays and index arrays for `add_edges`, one
reused graph). One tag is a single binary cut per iteration (`BinaryGridCut`, dynamic).
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


def grid_workspace(shape: tuple[int, int]) -> maxflow.GraphFloat:
    """An empty graph with room for every node and 8-neighbour edge of a frame of `shape`."""
    size = int(np.prod(shape))
    return maxflow.Graph[float](size, len(OFFSETS) * size)


class ExpansionGrid:
    """Expansion moves on one frame's 8-neighbour grid with fixed Potts weights.

    The move of label alpha is a binary cut over the pixels not at alpha (y_i = 1 switches
    pixel i to alpha; a pixel at alpha keeps it either way and stays out of the cut). After
    the move, the Potts term w [x_i != x_j] of a pair of such pixels is
      w [y_i != y_j]                                                (same label),
      w (1 - y_i y_j) = w/2 ((1 - y_i) + (1 - y_j) + [y_i != y_j])  (different labels),
    and a pixel next to an alpha pixel pays w (1 - y_i): symmetric edges of weight w or w/2
    plus costs of keeping, all non-negative, so the maxflow spends no flow on a
    reparametrisation (the asymmetric form with capacities B + C - A and unary corrections
    describes the same energy, hence the same cut, but took several times longer to solve).

    The edge structure (pixel pairs, weights, node indices) is set up once per frame; a move
    derives the capacities from the labelling with whole-array operations and hands them to
    `add_edges` in one call. Every move refills one graph, `workspace` (made here unless
    given; frames of the same size can share one): allocating the memory of a frame-sized
    graph afresh for each move costs about as much as the cut itself.
    """

    def __init__(self, weights: np.ndarray, workspace: maxflow.GraphFloat | None = None):
        self.shape = weights.shape[1:]
        self._graph = workspace if workspace is not None else grid_workspace(self.shape)
        self._index = np.arange(weights[0].size, dtype=np.int32).reshape(self.shape)
        self._edges = []
        for offset, pair_weights in zip(OFFSETS, weights, strict=True):
            src, dst = edge_slices(offset, self.shape)
            w = np.ascontiguousarray(pair_weights[src])
            self._edges.append((src, dst, w, 0.5 * w, self._index[src], self._index[dst]))

    def move(self, unary: np.ndarray, labels: np.ndarray, alpha: int) -> np.ndarray:
        """Best labelling within one alpha-expansion of `labels` (indices into `unary`)."""
        active = labels != alpha
        if not active.any():
            return labels.copy()
        keep = np.take_along_axis(unary, labels[None], 0)[0].copy()
        tails, heads, caps = [], [], []
        for src, dst, w, half, tail, head in self._edges:
            active_src, active_dst = active[src], active[dst]
            keep[src] += w * (active_src > active_dst)
            keep[dst] += w * (active_dst > active_src)
            both = active_src & active_dst
            split = both & (labels[src] != labels[dst])
            split_half = half * split
            keep[src] += split_half
            keep[dst] += split_half
            cap = w * (both ^ split) + split_half
            edge = np.flatnonzero(cap)
            tails.append(tail.ravel()[edge])
            heads.append(head.ravel()[edge])
            caps.append(cap.ravel()[edge])
        caps = np.concatenate(caps)
        graph = self._graph
        graph.reset()
        graph.add_nodes(active.size)
        graph.add_edges(np.concatenate(tails), np.concatenate(heads), caps, caps)
        nodes = self._index[active]
        keep, switch = keep[active], unary[alpha][active]
        base = np.minimum(keep, switch)
        graph.add_grid_tedges(nodes, switch - base, keep - base)
        graph.maxflow()
        moved = labels.copy()
        moved[active] = np.where(graph.get_grid_segments(nodes), alpha, labels[active])
        return moved

    def expand(self, unary: np.ndarray, labels: np.ndarray, cycles: int) -> np.ndarray:
        """Alpha-expansion from `labels`: up to `cycles` passes of one move per label.

        Every move is optimal within its neighbourhood and includes the current labelling, so
        the energy never increases. Moves are deterministic, so once one move per label in a
        row has left the labelling as it is, so would every further one: the search ends.
        """
        labels = labels.copy()
        n_labels = len(unary)
        unchanged = 0
        for step in range(cycles * n_labels):
            moved = self.move(unary, labels, step % n_labels)
            if np.array_equal(moved, labels):
                unchanged += 1
                if unchanged == n_labels:
                    break
            else:
                unchanged = 0
                labels = moved
        return labels


def expansion_move(
    unary: np.ndarray, labels: np.ndarray, alpha: int, weights: np.ndarray
) -> np.ndarray:
    """Best labelling within one alpha-expansion of `labels` (indices into `unary`, (L, H, W))."""
    return ExpansionGrid(weights).move(unary, labels, alpha)


def alpha_expansion(
    unary: np.ndarray, weights: np.ndarray, labels: np.ndarray, cycles: int
) -> np.ndarray:
    """Alpha-expansion from `labels`: up to `cycles` passes of one move per label."""
    return ExpansionGrid(weights).expand(unary, labels, cycles)
