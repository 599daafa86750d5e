"""FST video segmentation ("Fast object segmentation in unconstrained video", Papazoglou &
Ferrari, ICCV 2013), the motion segments of M-CNN.

Per shot: optical flow -> motion boundaries -> inside-outside maps (a rough, per-frame guess of
what moves differently from its surroundings) -> SLIC superpixels -> a location prior carried
forward and backward along the flow -> foreground/background colour GMMs -> min-cut on the
spatio-temporal superpixel graph, re-fitting the colour models GrabCut-style.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import maxflow
import numpy as np
from skimage.filters import threshold_otsu

from mcnn.config import validate
from mcnn.core import gmm
from mcnn.core.io import DataError
from mcnn.motion import choice
from mcnn.motion.boundaries import flow_gradient_magnitude
from mcnn.motion.evidence import compensate, gap_flows
from mcnn.motion.flow import consistent_flow, landing_index, resize_to_max_side, shot_flows
from mcnn.motion.inside_outside import inside_outside
from mcnn.motion.superpixels import (
    ShotSuperpixels,
    build_superpixels,
    frame_means,
    pull_along_flow,
    temporal_edges,
)

log = logging.getLogger(__name__)


@dataclass
class ShotStages:
    """What each FST stage produced for one shot, for figures (`segment_shot(keep_stages=True)`).

    Per-superpixel arrays are (N,) over the shot's superpixels (`superpixels.labels` maps
    pixels to them).
    """

    forward: np.ndarray  # (T-1, h, w, 2) flow t -> t+1
    backward: np.ndarray  # (T-1, h, w, 2) flow t+1 -> t
    inside: np.ndarray  # (T, h, w) bool inside-outside maps
    superpixels: ShotSuperpixels
    location: np.ndarray  # (N,) location prior
    appearance: np.ndarray  # (N,) p(fg | colour) of the last round's colour models
    foreground: np.ndarray  # (N,) bool result of the min-cut


@dataclass
class ShotSegmentation:
    masks: np.ndarray  # (T, h, w) bool, the moving foreground
    boundary: np.ndarray  # (T, h, w) float32 motion-boundary strength in [0, 1]
    scale: float  # h / original frame height
    stages: ShotStages | None = None
    flow: int = 0  # which flow made it: 0 = motion.flow, k = motion.alternative_flows[k-1]
    points: tuple[int, ...] = (0,)  # points per flow of mcnn.motion.choice's rule
    # With keep_alternatives: every flow's masks, and its scores of the choice's criteria
    alternatives: list[np.ndarray] | None = None
    criteria: list[dict] | None = None


def flow_settings(cfg: dict) -> list[dict]:
    """`motion.flow`, then each of `motion.alternative_flows` (overrides of it), validated."""
    settings = [cfg["flow"]]
    for override in cfg["alternative_flows"]:
        if "max_side" in override and override["max_side"] != cfg["flow"]["max_side"]:
            raise ValueError(
                f"motion.alternative_flows: {override} changes max_side; every flow of a shot"
                " must be computed at motion.flow.max_side"
            )
        merged = {**cfg["flow"], **override}
        settings.append(validate({"motion": {"flow": merged}})["motion"]["flow"])
    return settings


def segment_shot(
    frames: list[np.ndarray],
    cfg: dict,
    seed: int,
    name: str = "shot",
    flows: list[tuple[np.ndarray, np.ndarray]] | None = None,
    keep_stages: bool = False,
    keep_alternatives: bool = False,
) -> ShotSegmentation:
    """Segment the moving foreground of one shot.

    `frames`: RGB uint8 (H, W, 3), all the same size, at least 2. `cfg`: `config["motion"]`.
    `name` identifies the shot in errors (DataError on unusable input). `flows`: the shot's
    (forward, backward) flow at the working size per flow of `flow_settings(cfg)`, if already
    computed (benchmarks cache them). `keep_stages`: also return the intermediate results
    (`ShotStages`) of the chosen segmentation. `keep_alternatives`: also return every flow's
    masks and criteria (benchmarks score every choice rule with them).

    With `motion.alternative_flows`, FST runs once per flow (the superpixels are shared: they
    do not depend on the flow) and `mcnn.motion.choice` picks one segmentation without labels
    (rule `motion.choose_by`). With `fst.gap_flow` > 1 the gap flow is computed here (with
    `motion.flow`'s setting, not part of `flows`) and its inside maps go to every flow's run.
    """
    if len(frames) < 2:
        raise DataError(name, f"{len(frames)} frame(s): optical flow needs at least 2")
    shapes = {f.shape for f in frames}
    if len(shapes) != 1 or frames[0].ndim != 3 or frames[0].shape[2] != 3:
        raise DataError(name, f"frames must be RGB images of one size, got shapes {sorted(shapes)}")
    fst = cfg["fst"]
    small = [resize_to_max_side(f, cfg["flow"]["max_side"]) for f in frames]
    scale = small[0].shape[0] / frames[0].shape[0]
    settings = flow_settings(cfg)
    if flows is None:
        flows = [shot_flows(small, flow_cfg) for flow_cfg in settings]
    if len(flows) != len(settings):
        raise ValueError(f"{len(flows)} flows given for {len(settings)} flow settings")
    for forward, _ in flows:
        if forward.shape != (len(small) - 1, *small[0].shape[:2], 2):
            raise DataError(name, f"flow {forward.shape} does not match {len(small)} frames")
    sp = build_superpixels(small, fst)
    # The gap flow's inside maps do not depend on the consecutive flows: one set per shot.
    gap_inside = None
    if fst["gap_flow"] > 1:
        gap = gap_flows(small, settings[0], fst["gap_flow"])
        gap_inside = np.stack([_evidence(flow, fst)[0] for flow in gap])
    runs = [
        _segment_with_flow(sp, forward, backward, fst, seed, gap_inside)
        for forward, backward in flows
    ]
    masks = [stages.foreground[sp.labels] for stages, _ in runs]
    chosen, points, scores = 0, np.zeros(1, int), None
    if len(runs) > 1:
        chosen, points, scores = choice.choose(
            masks,
            np.stack([stages.inside for stages, _ in runs]),
            np.stack([boundary for _, boundary in runs]),
            cfg["choose_by"],
            cfg["choice_min_valid"],
        )
    stages, boundary = runs[chosen]
    return ShotSegmentation(
        masks[chosen],
        boundary,
        scale,
        stages if keep_stages else None,
        chosen,
        tuple(int(p) for p in points),
        masks if keep_alternatives else None,
        scores if keep_alternatives else None,
    )


def _evidence(flow: np.ndarray, fst: dict, gradient: np.ndarray | None = None):
    """(inside map, motion-boundary strength) of one frame's flow, the camera's motion taken
    out first (`camera_compensation`), the relative-motion mask added (`relative_motion_inside`).
    `gradient`: the flow's `flow_gradient_magnitude`, if already computed."""
    compensated = compensate(flow, fst["camera_compensation"])
    if compensated is not flow:
        gradient = None  # the compensated flow has gradients of its own
    inside, boundary = inside_outside(compensated, fst, gradient)
    if fst["relative_motion_inside"]:
        inside = inside | relative_motion(compensated, fst["relative_motion_min"])
    return inside, boundary


def _segment_with_flow(sp, forward, backward, fst: dict, seed: int, gap_inside=None):
    """FST's stages on one flow of a shot, and its motion-boundary strengths (T, h, w).
    `gap_inside`: (T, h, w) inside maps of the gap flow, added to the flow's own."""
    # Frame t's boundaries come from its flow to t+1; the last frame has only flow to T-2.
    own_flow = list(forward) + [backward[-1]]
    # The boundaries and the location prior's trust both need each flow's gradient magnitude.
    gradients = [flow_gradient_magnitude(flow) for flow in own_flow]
    maps = [_evidence(flow, fst, g) for flow, g in zip(own_flow, gradients, strict=True)]
    inside = np.stack([m[0] for m in maps])
    boundary = np.stack([m[1] for m in maps])
    if gap_inside is not None:
        inside |= gap_inside
    ratio = sp.mean(inside)
    location = location_prior(sp, ratio, forward, backward, fst, gradients)
    foreground, appearance = segment_superpixels(sp, ratio, location, forward, fst, seed)
    stages = ShotStages(forward, backward, inside, sp, location, appearance, foreground)
    return stages, boundary


def relative_motion(flow: np.ndarray, minimum: float) -> np.ndarray:
    """(H, W) bool: pixels moving differently from the frame's median flow.

    |flow - median flow| above an Otsu threshold of the frame (at least `minimum` px): the
    trivial baseline of issue #10, added to the inside maps where FST's closed motion
    boundaries miss an object (smooth flow at its edges gives no boundary to close).
    """
    magnitude = np.linalg.norm(flow - np.median(flow.reshape(-1, 2), axis=0), axis=2)
    if not np.ptp(magnitude) > 0:
        return np.zeros(magnitude.shape, bool)
    return magnitude > max(float(threshold_otsu(magnitude)), minimum)


def location_prior(
    sp: ShotSuperpixels,
    ratio: np.ndarray,
    forward: np.ndarray,
    backward: np.ndarray,
    cfg: dict,
    gradients: list[np.ndarray] | None = None,
) -> np.ndarray:
    """(N,) probability that each superpixel is foreground, judged by position alone.

    As FST's release: inside-ratios are accumulated forward in time (frame t adds the value
    carried from t-1 along the flow) and, separately, backward; the prior is the frame's own
    ratio plus both carried gains. Carrying is a weighted mean over the source superpixels a
    superpixel's pixels come from, each source weighted by exp(-damping * its mean flow-gradient
    magnitude): unreliable flow counts less, but evidence does not fade with distance. Pixels
    failing the forward-backward flow check (occluded in the source frame) carry nothing
    (`occlusion_check`, not in FST: without it the background an object is about to cover
    inherits the object's value, a wake ahead of every moving object). The sum
    is divided by `location_norm` times its maximum over the shot (or over each frame, see
    `location_scope`). `gradients`: the `flow_gradient_magnitude` of each frame's own flow
    (forward, the last frame's backward), if already computed.
    """
    n_frames = len(sp.offsets) - 1
    if gradients is None:
        gradients = [flow_gradient_magnitude(f) for f in list(forward) + [backward[-1]]]
    gradient = np.concatenate([frame_means(sp, t, g) for t, g in enumerate(gradients)])
    trust = np.exp(-cfg["propagation_damping"] * gradient)
    gains = []
    for order, flows, step in (
        (range(1, n_frames), backward, -1),  # frame t pulls from t-1 with the flow t -> t-1
        (range(n_frames - 2, -1, -1), forward, +1),  # frame t pulls from t+1 with t -> t+1
    ):
        acc = ratio.copy()
        other = forward if step < 0 else backward
        for t in order:
            pair = t - 1 if step < 0 else t
            landing = landing_index(flows[pair])  # shared by the check and the carrying
            valid = None
            if cfg["occlusion_check"]:
                valid = consistent_flow(
                    flows[pair],
                    other[pair],
                    cfg["occlusion_relative"],
                    cfg["occlusion_absolute"],
                    landing,
                )
            carried = pull_along_flow(sp, acc, t, t + step, flows[pair], trust, valid, landing)
            acc[sp.offsets[t] : sp.offsets[t + 1]] += carried
        gains.append(acc - ratio)
    location = ratio + gains[0] + gains[1]

    starts = sp.offsets[:-1]
    if cfg["location_scope"] == "shot":
        scale = np.full(sp.count, cfg["location_norm"] * location.max())
    else:
        scale = cfg["location_norm"] * np.maximum.reduceat(location, starts)[sp.frame]
    location = np.divide(location, scale, out=np.zeros_like(location), where=scale > 0)
    location[location > cfg["location_saturation"]] = cfg["location_max"]
    confident = np.add.reduceat(location > cfg["weak_frame_level"], starts) / np.diff(sp.offsets)
    weak = confident < cfg["weak_frame_fraction"]
    floor = np.where(weak, max(cfg["weak_frame_floor"], cfg["location_min"]), cfg["location_min"])
    return np.clip(location, floor[sp.frame], cfg["location_max"])


def segment_superpixels(
    sp: ShotSuperpixels,
    ratio: np.ndarray,
    location: np.ndarray,
    forward: np.ndarray,
    cfg: dict,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Min-cut with GrabCut-style colour-model re-estimation.

    Returns (N,) bool foreground superpixels and (N,) p(fg | colour) of the colour models of
    the last round (0.5 everywhere when there were none).
    """
    edges, weights = _pairwise(sp, forward, cfg)
    fg_samples = ratio > cfg["fg_init_ratio"]
    bg_samples = ratio < cfg["bg_init_ratio"]
    appearance = np.full(sp.count, 0.5)
    if not fg_samples.any() or not bg_samples.any():
        log.warning("no motion evidence for one of the two colour models; keeping inside maps")
        return fg_samples, appearance
    rng = np.random.default_rng(seed)
    # First round as FST: a sample counts by how surely it is inside (fg) or outside (bg).
    sample_weight = (ratio, 1.0 - ratio)
    location_fg = -cfg["location_weight"] * np.log(location)
    location_bg = -cfg["location_weight"] * np.log1p(-location)
    foreground = None
    for _ in range(cfg["grabcut_iterations"]):
        colour_fg, colour_bg = _colour_costs(sp, fg_samples, bg_samples, sample_weight, cfg, rng)
        appearance = 1.0 / (1.0 + np.exp(np.clip(colour_fg - colour_bg, -50, 50)))
        scale = cfg["unary_scale"]
        cut = _min_cut(
            scale * (location_fg + colour_fg), scale * (location_bg + colour_bg), edges, weights
        )
        if foreground is not None and np.array_equal(cut, foreground):
            break
        foreground = cut
        if foreground.all() or not foreground.any():
            break  # one colour model would have no samples left
        fg_samples, bg_samples = foreground, ~foreground
        sample_weight = (np.ones(sp.count), np.ones(sp.count))
    return foreground, appearance


def _pairwise(sp: ShotSuperpixels, forward: np.ndarray, cfg: dict):
    """Edges (E, 2) and their contrast-sensitive weights (E,), spatial and temporal.

    As FST's release, each kind of edge normalises its contrast by the mean of the quantity it
    is weighed with: spatial beta = contrast / mean(|dc|^2 / centre distance), temporal beta =
    contrast / mean(|dc|^2 * overlap).
    """
    spatial = sp.adjacent
    temporal, overlap = temporal_edges(sp, forward)
    dc_spatial = _colour_distance2(sp.colour, spatial)
    dc_temporal = _colour_distance2(sp.colour, temporal)
    centre_distance = np.linalg.norm(sp.centre[spatial[:, 0]] - sp.centre[spatial[:, 1]], axis=1)
    # Centres of two touching superpixels can (rarely) coincide; a pixel is the finest distance.
    centre_distance = np.maximum(centre_distance, 1.0)
    beta_spatial = _beta(dc_spatial / centre_distance, cfg)
    beta_temporal = _beta(dc_temporal * overlap, cfg)
    w_spatial = cfg["spatial_weight"] * np.exp(-beta_spatial * dc_spatial) / centre_distance
    w_temporal = cfg["temporal_weight"] * overlap * np.exp(-beta_temporal * dc_temporal)
    return np.concatenate([spatial, temporal]), np.concatenate([w_spatial, w_temporal])


def _colour_distance2(colour: np.ndarray, edges: np.ndarray) -> np.ndarray:
    return ((colour[edges[:, 0]] - colour[edges[:, 1]]) ** 2).sum(1)


def _beta(normaliser: np.ndarray, cfg: dict) -> float:
    mean = float(normaliser.mean()) if len(normaliser) else 0.0
    return cfg["contrast"] / mean if mean > 0 else 0.0


def _colour_costs(sp, fg_samples, bg_samples, sample_weight, cfg, rng):
    """(N,) -log p(colour | fg) and -log p(colour | bg).

    One pair of GMMs per run of `gmm_frame_step` frames, fitted on the samples of the whole
    shot weighted by exp(-temporal_decay * dt^2) from the run's middle frame.
    """
    fg_idx = _subsample(np.flatnonzero(fg_samples), cfg["gmm_max_samples"], rng)
    bg_idx = _subsample(np.flatnonzero(bg_samples), cfg["gmm_max_samples"], rng)
    n_frames = len(sp.offsets) - 1
    step = cfg["gmm_frame_step"]
    cost_fg = np.empty(sp.count)
    cost_bg = np.empty(sp.count)
    for start in range(0, n_frames, step):
        stop = min(start + step, n_frames)
        middle = (start + stop - 1) / 2
        targets = slice(sp.offsets[start], sp.offsets[stop])
        for idx, n_components, cost, base in (
            (fg_idx, cfg["fg_components"], cost_fg, sample_weight[0]),
            (bg_idx, cfg["bg_components"], cost_bg, sample_weight[1]),
        ):
            weights = base[idx] * np.exp(-cfg["temporal_decay"] * (sp.frame[idx] - middle) ** 2)
            model = gmm.fit(
                sp.colour[idx],
                weights,
                n_components,
                covariance=cfg["gmm_covariance"],
                iterations=cfg["gmm_iterations"],
                seed=int(rng.integers(2**31)),
            )
            cost[targets] = model.nll(sp.colour[targets])
    return cost_fg, cost_bg


def _subsample(indices: np.ndarray, limit: int, rng: np.random.Generator) -> np.ndarray:
    if len(indices) <= limit:
        return indices
    return np.sort(rng.choice(indices, limit, replace=False))


def _min_cut(cost_fg, cost_bg, edges, weights) -> np.ndarray:
    """Binary min-cut; True = foreground (source side)."""
    graph = maxflow.Graph[float](len(cost_fg), len(edges))
    nodes = graph.add_nodes(len(cost_fg))
    graph.add_edges(edges[:, 0], edges[:, 1], weights, weights)
    # Terminal capacities must be non-negative; only the difference between the two matters.
    shift = np.minimum(cost_fg, cost_bg)
    # A node left on the sink (background) side cuts its source edge: that edge carries cost_bg.
    graph.add_grid_tedges(nodes, cost_bg - shift, cost_fg - shift)
    graph.maxflow()
    return ~graph.get_grid_segments(nodes)
