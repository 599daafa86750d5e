"""A label-free choice between FST segmentations of one shot made with different flows.

FST's result on a shot hangs on details of the flow: which superpixels the inside-outside maps
pick up first decides whether the segmentation grows to the object or stays on fragments, and
one flow setting moves J on single real sequences by +0.5 or -0.7 (CHANGELOG.md, motion).
A segmentation that failed that way shows it without ground truth: its masks flicker from
frame to frame, their outlines leave the motion boundaries, they agree less with what moves.
Each criterion below scores one of these signs. The rule (`motion.choose_by`) is one criterion
alone, or the vote of all of them (each gives a point to the segmentation(s) it scores best,
the most points win); ties keep the first, the `motion.flow` setting. With
`motion.choice_min_valid`, segmentations with too few frames inside the pruning bounds are
left out of the choice first. The criteria were all
written down before any choice was scored; the default rule was then picked by the
leave-one-sequence-out of benchmarks/motion_quality.py among every rule, so its held-out figure
is known (CHANGELOG.md, motion benchmark).

Arrays: `masks` (T, h, w) bool of one segmentation; `inside` and `boundary` (V, T, h, w): the
inside-outside maps and motion-boundary strengths of all V segmentations' flows.
"""

from __future__ import annotations

import numpy as np

from mcnn.labels.energy import label_edges
from mcnn.metrics.davis import region_similarity

# A frame is "valid" when its mask covers 2.5-50 % of it: the paper's shot-pruning bounds (4.2),
# fixed here rather than read from `shots.prune`, so that the vote (validated with these bounds)
# does not change when a user changes the pruning.
VALID_AREA = (0.025, 0.5)


def criteria(masks: np.ndarray, index: int, inside: np.ndarray, boundary: np.ndarray) -> dict:
    """The scores (higher = better) of segmentation `index`, whose masks are `masks`."""
    frames = len(masks)
    own_inside, own_boundary = inside[index], boundary[index]
    any_inside = inside.any(0)
    others_inside = np.delete(inside, index, 0).any(0)
    mean_boundary = boundary.mean(0)
    area = masks.reshape(frames, -1).mean(1)
    outlines = [label_edges(m, 1) for m in masks]  # pixels next to the mask's outline

    def overlap(a: np.ndarray, b: np.ndarray) -> float:
        """Mean J (IoU; 1 when both are empty) of two stacks of masks, frame by frame."""
        return float(np.mean([region_similarity(x, y) for x, y in zip(a, b, strict=True)]))

    def on_outline(strength: np.ndarray, t: int) -> float:
        return float(strength[t][outlines[t]].mean()) if outlines[t].any() else 0.0

    moving = [(masks[t] & any_inside[t]).sum() for t in range(frames)]
    return {
        # agreement with the inside-outside maps: its own flow's, all flows', the other flows'
        "inside_own": overlap(masks, own_inside),
        "inside_any": overlap(masks, any_inside),
        "inside_others": overlap(masks, others_inside),
        # share of the mask that moves, and of what moves that the mask covers
        "moving_precision": np.mean([moving[t] / max(masks[t].sum(), 1) for t in range(frames)]),
        "moving_recall": np.mean([moving[t] / max(any_inside[t].sum(), 1) for t in range(frames)]),
        # stability in time: overlap of consecutive masks, spread of the mask's area
        "temporal_overlap": overlap(masks[:-1], masks[1:]),
        "area_steadiness": -area.std() / max(area.mean(), 1e-6),
        "valid_frames": np.mean((area >= VALID_AREA[0]) & (area <= VALID_AREA[1])),
        # motion-boundary strength on the outline: its own flow's, all flows' mean, and that
        # mean relative to the frame's
        "outline_boundary_own": np.mean([on_outline(own_boundary, t) for t in range(frames)]),
        "outline_boundary_mean": np.mean([on_outline(mean_boundary, t) for t in range(frames)]),
        "outline_boundary_ratio": np.mean(
            [on_outline(mean_boundary, t) / (mean_boundary[t].mean() + 1e-6) for t in range(frames)]
        ),
    }


def vote(scores: list[dict]) -> tuple[int, np.ndarray]:
    """(index of the winner, points per segmentation) of segmentations' `criteria` scores."""
    points = np.zeros(len(scores), int)
    for name in scores[0]:
        values = np.array([s[name] for s in scores])
        points += values == values.max()
    return int(np.argmax(points)), points


def pick(scores: list[dict], rule: str, min_valid: float = 0.0) -> tuple[int, np.ndarray]:
    """(index of the winner, points per segmentation) by `rule`: "vote", or the name of one
    criterion alone (a point to the best; ties: the first).

    `min_valid` (`motion.choice_min_valid`): segmentations whose valid_frames is below it are
    left out (no points) when at least one reaches it. Frames outside VALID_AREA are pruned
    from training, so a segmentation with few valid frames leaves little to train on whatever
    its other criteria say (mallard-water: 27 of 80 frames empty, yet the best outline)."""
    kept = [i for i, s in enumerate(scores) if s["valid_frames"] >= min_valid]
    kept = kept or list(range(len(scores)))
    subset = [scores[i] for i in kept]
    if rule == "vote":
        best, subset_points = vote(subset)
    else:
        values = np.array([s[rule] for s in subset])
        best, subset_points = int(np.argmax(values)), (values == values.max()).astype(int)
    points = np.zeros(len(scores), int)
    points[kept] = subset_points
    return kept[best], points


def choose(
    masks: list[np.ndarray],
    inside: np.ndarray,
    boundary: np.ndarray,
    rule: str = "vote",
    min_valid: float = 0.0,
):
    """(index of the chosen segmentation, points per segmentation, scores per segmentation)."""
    scores = [criteria(m, i, inside, boundary) for i, m in enumerate(masks)]
    return (*pick(scores, rule, min_valid), scores)
