"""Video co-localization with a segmentation network, scored by CorLoc (paper 4.5, Table 4).

For every annotated frame and every class boxed in it: the network's score p for that class
picks confident pixels (p >= fg_threshold: foreground, p <= bg_threshold: background) that train
two colour GMMs; a binary graph cut on SLIC superpixels minimises energy (2) restricted to
labelings constant on superpixels:
    sum_i [NLL_x(z_i) - alpha log q_x(i)] + lambda sum_(i,j) [x_i != x_j] exp(-beta |z_i - z_j|^2)
over pixels i and 4-neighbour pairs (i, j) (q_object = p, q_background = 1 - p; beta = gamma /
mean squared colour difference of the frame). The predicted box encloses the largest
8-connected object component. A frame counts as localised when that box has IoU > 0.5 with a
ground-truth box of the class; CorLoc = percentage of localised frames, per class, and their
mean over classes (the paper's "Average").

Beside the network, the same frames are scored with the raw motion masks (the motion stage's
HDF5, before pruning): the box of the largest 8-connected component of the mask, brought to the
frame's size. A boxed frame without a mask (its shot failed, or the frame has none) or with an
empty one counts as not localised; the frame table says why in `no_box`.

Boxes are inclusive 0-based pixel coordinates (x0, y0, x1, y1): a box covers columns x0..x1,
so its width is x1 - x0 + 1 (the convention of the demo world and of the VOC devkit).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence

import cv2
import numpy as np
import pandas as pd
from torch import nn
from tqdm import tqdm

from mcnn.classes import YTO_CLASSES
from mcnn.core import gmm
from mcnn.core.io import DataError, write_csv, write_json
from mcnn.datasets import read_boxes, read_shots
from mcnn.datasets.frames import read_frames
from mcnn.evaluation import tables
from mcnn.models import load_model
from mcnn.motion.fst import _min_cut
from mcnn.motion.store import read_shot_frame_numbers, read_shot_motion, shot_status_table
from mcnn.motion.superpixels import build_superpixels
from mcnn.predict import pick_device, predict_scores

log = logging.getLogger(__name__)

CORLOC_IOU = 0.5  # the co-localization protocol of Prest et al. (paper ref. [15])

#: Table 4 of the paper: CorLoc (%) of M-CNN on YouTube-Objects.
PUBLISHED_CORLOC = dict(
    zip(YTO_CLASSES, (76.1, 57.7, 77.7, 68.8, 71.6, 75.6, 87.9, 71.9, 80.0, 52.6), strict=True)
)
PUBLISHED_CORLOC_AVERAGE = 72.0

NETWORK, MOTION = "M-CNN (ours)", "motion masks (ours)"
SOURCES = {NETWORK: "ours", MOTION: "ours: motion stage, raw masks"}

FRAME_COLUMNS = [
    "method", "dataset", "video_id", "shot_id", "frame", "label", "gt_boxes",
    "x0", "y0", "x1", "y1", "iou", "localised", "no_box",
]  # fmt: skip


def box_iou(a, b) -> float:
    """IoU of two inclusive pixel boxes (x0, y0, x1, y1)."""
    width = min(a[2], b[2]) - max(a[0], b[0]) + 1
    height = min(a[3], b[3]) - max(a[1], b[1]) + 1
    inter = max(width, 0) * max(height, 0)
    area_a = (a[2] - a[0] + 1) * (a[3] - a[1] + 1)
    area_b = (b[2] - b[0] + 1) * (b[3] - b[1] + 1)
    return float(inter / (area_a + area_b - inter))


def largest_component_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """Inclusive box of the largest 8-connected component of a binary mask; None if empty.

    Equal areas: the component met first in raster order wins.
    """
    count, _, stats, _ = cv2.connectedComponentsWithStats(
        mask.astype(np.uint8), connectivity=8, ltype=cv2.CV_32S
    )
    if count < 2:
        return None
    best = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    x, y, w, h = (int(v) for v in stats[best, :4])
    return x, y, x + w - 1, y + h - 1


def superpixel_edges(
    segments: np.ndarray, image: np.ndarray, gamma: float
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (E, 2) of touching superpixels and sum_(i,j) exp(-beta |z_i - z_j|^2) (E,).

    The sum runs over the 4-neighbour pixel pairs across the two superpixels' common border,
    so a cut between them pays what the pixel-level Potts term would.
    """
    colours = image.astype(np.float64)
    pairs = [
        (segments[:, :-1], segments[:, 1:], colours[:, :-1] - colours[:, 1:]),
        (segments[:-1], segments[1:], colours[:-1] - colours[1:]),
    ]
    a = np.concatenate([p[0].ravel() for p in pairs])
    b = np.concatenate([p[1].ravel() for p in pairs])
    sq = np.concatenate([(p[2] ** 2).sum(-1).ravel() for p in pairs])
    mean = float(sq.mean()) if sq.size else 0.0
    # A frame of one colour has no contrast to normalise: every pair then weighs 1.
    contrast = np.exp(-(gamma / mean if mean > 0 else 0.0) * sq)
    across = a != b
    n = int(segments.max()) + 1
    keys = np.minimum(a, b)[across] * n + np.maximum(a, b)[across]
    unique, inverse = np.unique(keys, return_inverse=True)
    weights = np.bincount(inverse, contrast[across], len(unique))
    return np.stack([unique // n, unique % n], 1), weights


def segment_object(image: np.ndarray, score: np.ndarray, cfg: dict) -> np.ndarray:
    """Binary object mask (H, W) of one frame from the network's score map (H, W) of a class.

    `cfg` = config["evaluate"]["colocalization"]. Without enough confident pixels on either
    side the colour term is left out (network and smoothness decide).
    """
    if cfg["bg_threshold"] >= cfg["fg_threshold"]:
        raise ValueError("colocalization.bg_threshold must be below fg_threshold")
    sp_cfg = {
        "superpixels": cfg["superpixels"],
        "compactness": cfg["compactness"],
        "slic_iterations": cfg["slic_iterations"],
        "colour_space": "rgb",
    }
    segments = build_superpixels([image], sp_cfg).labels[0]
    n = int(segments.max()) + 1
    p = np.clip(score.astype(np.float64), cfg["prob_floor"], 1 - cfg["prob_floor"]).ravel()
    cost_fg = -cfg["network_weight"] * np.log(p)
    cost_bg = -cfg["network_weight"] * np.log1p(-p)
    colours = image.reshape(-1, 3).astype(np.float64)
    fg_pixels = np.flatnonzero(p >= cfg["fg_threshold"])
    bg_pixels = np.flatnonzero(p <= cfg["bg_threshold"])
    if min(len(fg_pixels), len(bg_pixels)) >= cfg["gmm_min_pixels"]:
        rng = np.random.default_rng(cfg["seed"])
        for pixels, components, cost in (
            (fg_pixels, cfg["fg_components"], cost_fg),
            (bg_pixels, cfg["bg_components"], cost_bg),
        ):
            if len(pixels) > cfg["gmm_max_samples"]:
                pixels = np.sort(rng.choice(pixels, cfg["gmm_max_samples"], replace=False))
            model = gmm.fit(
                colours[pixels], None, components, covariance="full",
                iterations=cfg["gmm_iterations"], seed=int(rng.integers(2**31)),
            )  # fmt: skip
            cost += model.nll(colours)
    flat = segments.ravel()
    edges, contrast = superpixel_edges(segments, image, cfg["gamma"])
    foreground = _min_cut(
        np.bincount(flat, cost_fg, n),
        np.bincount(flat, cost_bg, n),
        edges,
        cfg["pairwise_weight"] * contrast,
    )
    return foreground[segments]


def frame_results(
    model: nn.Module,
    classes: list[str],
    shots: pd.DataFrame,
    boxes: pd.DataFrame,
    cfg: dict,
    device,
) -> pd.DataFrame:
    """One row per (annotated frame, class boxed in it): predicted box, best IoU, localised.

    `cfg` = config["evaluate"]; the scores use its `scales` and `flip`. Every box's label must
    be a class of the network and its shot a row of `shots` (see `run`).
    """
    shot_rows = shots.set_index("shot_id", drop=False)
    records = []
    groups = boxes.groupby("shot_id", sort=True)
    for shot_id, shot_boxes in tqdm(groups, desc="colocalize", unit="shot"):
        numbers = np.unique(shot_boxes["frame"].to_numpy())
        _, images = read_frames(shot_rows.loc[shot_id].to_dict(), numbers)
        for number, image in zip(numbers, images, strict=True):
            in_frame = shot_boxes[shot_boxes["frame"] == number]
            scores = predict_scores(model, image, cfg["scales"], cfg["flip"], device).cpu()
            for label, gt in in_frame.groupby("label", sort=True):
                score = scores[classes.index(label) + 1].numpy()
                mask = segment_object(image, score, cfg["colocalization"])
                records.append(_record(NETWORK, gt, largest_component_box(mask), "empty mask"))
    return pd.DataFrame(records, columns=FRAME_COLUMNS)


def _record(method: str, gt: pd.DataFrame, box, no_box: str) -> dict:
    """The frame-table row of one frame's ground-truth boxes `gt` (rows of one frame and label)
    and a predicted box; `no_box` says why there is none when `box` is None."""
    first = gt.iloc[0]
    gt_boxes = gt[["x0", "y0", "x1", "y1"]].to_numpy()
    iou = 0.0 if box is None else max(box_iou(box, g) for g in gt_boxes)
    return {
        "method": method, "dataset": first["dataset"], "video_id": first["video_id"],
        "shot_id": first["shot_id"], "frame": int(first["frame"]), "label": first["label"],
        "gt_boxes": len(gt_boxes),
        **dict(zip(("x0", "y0", "x1", "y1"), box or (math.nan,) * 4, strict=True)),
        "iou": iou, "localised": iou > CORLOC_IOU, "no_box": "" if box else no_box,
    }  # fmt: skip


def motion_frame_results(
    shots: pd.DataFrame, boxes: pd.DataFrame, motion: pd.DataFrame
) -> pd.DataFrame:
    """`frame_results` for the raw motion masks: one row per (annotated frame, class).

    `motion` is `store.shot_status_table` of the dataset's motion files and holds every shot of
    `boxes`. A mask is resized to its shot's frame size (nearest) before its largest component
    is boxed, as the motion J/F is measured at the ground truth's size.
    """
    size = shots.set_index("shot_id")[["width", "height"]]
    motion = motion.set_index("shot_id")
    records = []
    for shot_id, shot_boxes in boxes.groupby("shot_id", sort=True):
        frames = shot_boxes.groupby(["frame", "label"], sort=True)
        status = motion.loc[shot_id]
        if status["status"] != "ok":
            no_box = f"motion failed: {status['reason']}"
            records += [_record(MOTION, gt, None, no_box) for _, gt in frames]
            continue
        position = {
            int(n): i for i, n in enumerate(read_shot_frame_numbers(status["path"], shot_id))
        }
        wanted = sorted({position[n] for n in shot_boxes["frame"] if n in position})
        masks = read_shot_motion(status["path"], shot_id, wanted).masks
        mask_of = dict(zip(wanted, masks, strict=True))
        width, height = (int(v) for v in size.loc[shot_id])
        for (number, _), gt in frames:
            box = None
            if number in position:
                mask = cv2.resize(
                    mask_of[position[number]], (width, height), interpolation=cv2.INTER_NEAREST
                )
                box = largest_component_box(mask)
            no_box = "empty mask" if number in position else "no motion mask for the frame"
            records.append(_record(MOTION, gt, box, no_box))
    return pd.DataFrame(records, columns=FRAME_COLUMNS)


def corloc(frames: pd.DataFrame, classes: list[str]) -> dict:
    """Per-class frame counts and CorLoc (%), their class mean and the pooled percentage.

    Classes without an annotated frame get CorLoc null and stay out of the class mean.
    """
    per_class = {}
    for name in classes:
        rows = frames[frames["label"] == name]
        hits = int(rows["localised"].sum())
        per_class[name] = {
            "frames": len(rows),
            "localised": hits,
            "corloc": 100.0 * hits / len(rows) if len(rows) else None,
        }
    scored = [c["corloc"] for c in per_class.values() if c["corloc"] is not None]
    return {
        "per_class": per_class,
        "average": float(np.mean(scored)) if scored else None,
        "pooled": 100.0 * frames["localised"].mean() if len(frames) else None,
        "frames": len(frames),
    }


def corloc_table(
    summaries: dict[str, dict], classes: list[str], compare_published: bool
) -> pd.DataFrame:
    """Table 4 layout: a row per method of `summaries` ({NETWORK or MOTION: `corloc` summary}),
    and the paper's M-CNN row when asked for and the classes match."""
    rows = [
        {"method": method, "source": SOURCES[method]}
        | {name: summary["per_class"][name]["corloc"] for name in classes}
        | {"average": summary["average"]}
        for method, summary in summaries.items()
    ]
    if compare_published and set(classes) == set(YTO_CLASSES):
        published = {"method": "M-CNN (published)", "source": "published (Table 4)"}
        rows.append(published | PUBLISHED_CORLOC | {"average": PUBLISHED_CORLOC_AVERAGE})
    return pd.DataFrame(rows, columns=["method", "source", *classes, "average"])


def every_nth_frame(boxes: pd.DataFrame, step: int) -> pd.DataFrame:
    """The boxes of every `step`-th annotated frame of each shot, its first included."""
    order = boxes.groupby("shot_id")["frame"].rank(method="dense").astype(int) - 1
    return boxes[order % step == 0]


def _counts(reasons: dict[str, int]) -> str:
    return "; ".join(f"{count} {reason}" for reason, count in reasons.items()) or "none"


def run(
    checkpoint: str | os.PathLike,
    index_path: str | os.PathLike,
    boxes_path: str | os.PathLike,
    motion_paths: Sequence[str | os.PathLike],
    cfg: dict,
    output: str | os.PathLike,
    summary_path: str | os.PathLike | None = None,
    frames_path: str | os.PathLike | None = None,
    markdown_path: str | os.PathLike | None = None,
    compare_published: bool = False,
    note: str = "",
    device: str | None = None,
) -> dict:
    """Co-localize every boxed frame of an index with the network and with the raw motion masks
    of `motion_paths` (the dataset's motion files); writes the Table 4 CSV (optionally the JSON
    summary, the per-frame CSV and the table in Markdown).

    `compare_published` adds the paper's row (only if the classes are the 10 YouTube-Objects
    ones): say so only for YouTube-Objects; `note` says how the setting differs from the paper.
    """
    torch_device = pick_device(device)
    model, ckpt = load_model(checkpoint, torch_device)
    classes = list(ckpt["classes"])
    boxes = read_boxes(boxes_path)
    shots = read_shots(index_path)
    if boxes.empty:
        raise DataError(boxes_path, "box table has no annotated frame")
    unknown = sorted(set(boxes["label"]) - set(classes))
    if unknown:
        raise DataError(
            boxes_path, f"box labels {unknown} are not classes of the network {classes}"
        )
    missing = sorted(set(boxes["shot_id"]) - set(shots["shot_id"]))
    if missing:
        raise DataError(boxes_path, f"shots {missing[:5]} are not in the index {index_path}")
    boxes = every_nth_frame(boxes, cfg["colocalization"]["frame_step"])
    motion = shot_status_table(motion_paths)
    missing = sorted(set(boxes["shot_id"]) - set(motion["shot_id"]))
    if missing:
        raise DataError(boxes_path, f"shots {missing[:5]} are in none of the motion files given")
    frames = {
        NETWORK: frame_results(model, classes, shots, boxes, cfg, torch_device),
        MOTION: motion_frame_results(shots, boxes, motion),
    }
    summaries = {
        method: corloc(rows, classes)
        | {"no_box": rows["no_box"][rows["no_box"] != ""].value_counts().to_dict()}
        for method, rows in frames.items()
    }
    table = corloc_table(summaries, classes, compare_published)
    write_csv(output, table)
    if frames_path is not None:
        write_csv(frames_path, pd.concat(frames.values(), ignore_index=True))
    summary = summaries[NETWORK] | {"motion_masks": summaries[MOTION]}
    summary |= {
        "checkpoint": str(checkpoint),
        "classes": classes,
        "boxes": str(boxes_path),
        "motion": [str(path) for path in motion_paths],
        "iou_threshold": CORLOC_IOU,
        "published_compared": bool(len(table) > len(summaries)),
        "note": note,
        "device": str(torch_device),
        "settings": {"scales": cfg["scales"], "flip": cfg["flip"]} | cfg["colocalization"],
    }
    if summary_path is not None:
        write_json(summary_path, summary)
    if markdown_path is not None:
        notes = [
            f"CorLoc (%): box IoU > {CORLOC_IOU}, {summary['frames']} annotated frames.",
            "Motion masks: the largest component of the motion stage's mask (before pruning);"
            f" frames without one count as not localised: {_counts(summaries[MOTION]['no_box'])}.",
        ]
        notes += [f"Note: {note}"] if note else []
        text = tables.markdown(table, [*classes, "average"], notes)
        tables.write_markdown(markdown_path, text)
    log.info(
        "CorLoc over %d frames: class mean %s, motion masks %s",
        summary["frames"], summary["average"], summaries[MOTION]["average"],
    )  # fmt: skip
    return summary
