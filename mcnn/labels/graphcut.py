"""Minimum cuts on the 8-neighbour grid with per-edge Potts weights (PyMaxflow).

`maxflow.fastmin.aexpansion_grid` shares one label-cost matrix between all edges and cannot
express contrast-sensitive weights, so each expansion move is built here as one submodular
binary cut: `ExpansionGrid` (per-edge weight arrays and index arrays for `add_edges`, one
reused graph). One tag is a single binary cut per iteration (`BinaryGridCut`, dynamic).
`BandSolver` cuts over a band of free pixels with the rest of the frame held (coarse to fine).
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


class BandSolver:
    """Cuts over the `free` pixels of a frame (a band), the other pixels held at their labels.

    Built once per frame from the full grid's Potts `weights`, the held pixels' `labels` and
    the number of labels: an edge between two free pixels stays an edge; an edge between a
    free pixel i and a held pixel j becomes the cost w_ij [x_i != l_j] in i's unary. The graph
    then has the band's nodes and edges only, so a cut costs what the band's size does, not
    the frame's; for any labelling that keeps the held pixels the energy differs from eq. (2)
    by a constant. One tag: one exact binary cut; several: expansion moves as `ExpansionGrid`.
    """

    def __init__(self, weights: np.ndarray, free: np.ndarray, labels: np.ndarray, n_labels: int):
        self.free = np.asarray(free, bool)
        self.size = int(self.free.sum())
        index = np.full(self.free.shape, -1, np.int32)
        index[self.free] = np.arange(self.size, dtype=np.int32)
        tails, heads, edge_weights = [], [], []
        self._extra = np.zeros((n_labels, self.size))
        for d, offset in enumerate(OFFSETS):
            src, dst = edge_slices(offset, self.free.shape)
            w = weights[d][src]
            free_src, free_dst = self.free[src], self.free[dst]
            inner = free_src & free_dst & (w > 0)
            tails.append(index[src][inner])
            heads.append(index[dst][inner])
            edge_weights.append(w[inner])
            for here, there, free_here, free_there in (
                (src, dst, free_src, free_dst),
                (dst, src, free_dst, free_src),
            ):
                border = free_here & ~free_there & (w > 0)
                nodes, held = index[here][border], labels[there][border]
                for label in range(n_labels):
                    cost = w[border] * (held != label)
                    self._extra[label] += np.bincount(nodes, cost, self.size)
        self._tail, self._head = np.concatenate(tails), np.concatenate(heads)
        self._weight = np.concatenate(edge_weights)
        self._half = 0.5 * self._weight
        self._graph = maxflow.Graph[float](max(self.size, 1), max(len(self._weight), 1))

    def solve(self, unary: np.ndarray, labels: np.ndarray, cycles: int) -> np.ndarray:
        """The labelling of the frame after the band's cut(s) from `labels` (held as built)."""
        out = labels.copy()
        if self.size == 0:
            return out
        costs = unary[:, self.free] + self._extra
        if len(costs) == 2:
            out[self.free] = self._binary_cut(costs)
        else:
            out[self.free] = expand(self._move, costs, labels[self.free], cycles)
        return out

    def _cut(self, caps, nodes, switch_caps, keep_caps) -> np.ndarray:
        graph = self._graph
        graph.reset()
        graph.add_nodes(self.size)
        edge = np.flatnonzero(caps)
        graph.add_edges(self._tail[edge], self._head[edge], caps[edge], caps[edge])
        base = np.minimum(keep_caps, switch_caps)
        graph.add_grid_tedges(nodes, switch_caps - base, keep_caps - base)
        graph.maxflow()
        return graph.get_grid_segments(nodes)

    def _binary_cut(self, costs: np.ndarray) -> np.ndarray:
        nodes = np.arange(self.size)
        return self._cut(self._weight, nodes, costs[1], costs[0]).astype(np.intp)

    def _move(self, costs: np.ndarray, labels: np.ndarray, alpha: int) -> np.ndarray:
        """The expansion move of `alpha` over the band (ExpansionGrid.move's terms)."""
        active = labels != alpha
        if not active.any():
            return labels.copy()
        tail, head = self._tail, self._head
        active_tail, active_head = active[tail], active[head]
        both = active_tail & active_head
        split = both & (labels[tail] != labels[head])
        split_half = self._half * split
        keep = costs[labels, np.arange(self.size)]
        weight, size = self._weight, self.size
        keep += np.bincount(tail, weight * (active_tail > active_head) + split_half, size)
        keep += np.bincount(head, weight * (active_head > active_tail) + split_half, size)
        caps = weight * (both & ~split) + split_half
        nodes = np.flatnonzero(active)
        moved = labels.copy()
        switched = self._cut(caps, nodes, costs[alpha][active], keep[active])
        moved[nodes[switched]] = alpha
        return moved


def expand(move, unary: np.ndarray, labels: np.ndarray, cycles: int) -> np.ndarray:
    """Alpha-expansion from `labels` with `move(unary, labels, alpha)`: up to `cycles` passes
    of one move per label.

    Every move is optimal within its neighbourhood and includes the current labelling, so the
    energy never increases. Moves are deterministic, so once one move per label in a row has
    left the labelling as it is, so would every further one: the search ends.
    """
    labels = labels.copy()
    n_labels = len(unary)
    unchanged = 0
    for step in range(cycles * n_labels):
        moved = move(unary, labels, step % n_labels)
        if np.array_equal(moved, labels):
            unchanged += 1
            if unchanged == n_labels:
                break
        else:
            unchanged = 0
            labels = moved
    return labels


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
        """Alpha-expansion from `labels` (see `expand`)."""
        return expand(self.move, unary, labels, cycles)


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
