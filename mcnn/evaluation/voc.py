"""Semantic segmentation IoU on a VOC-layout image split (paper 4.1; REFERENCE 4).

One confusion matrix (rows = ground truth, columns = prediction) is accumulated over every
pixel of the split whose ground truth is not void (255); IoU_c = TP / (TP + FP + FN) and the
mean runs over the classes including background. A class absent from both the ground truth and
the predictions of the whole split has no IoU (0 / 0): it is reported as null and left out of
the mean (the VOC devkit would return NaN for the mean; every VOC class occurs in its val split,
so on VOC both agree). A class predicted but never in the ground truth scores 0 and counts.

Protocols (the network's labels: 0 = background, classes[k] = k + 1):
- `all`: the 21 VOC labels; predictions are mapped to VOC values. Only for a model of all 20
  VOC classes, otherwise reported as not applicable.
- `subset`: the paper's 10-class protocol for the model's classes: images whose ground truth
  holds at least one of them; pixels of other VOC classes count as background.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
from torch import nn
from tqdm import tqdm

from mcnn.classes import VOC_CLASSES, VOID
from mcnn.core.io import DataError, write_json
from mcnn.datasets import read_shots
from mcnn.datasets.frames import read_frames, read_mask
from mcnn.datasets.voc import voc_to_labels
from mcnn.models import load_model
from mcnn.predict import output_values, pick_device, predict_scores, write_label_png

log = logging.getLogger(__name__)

PROTOCOLS = ("all", "subset")


def confusion_matrix(gt: np.ndarray, pred: np.ndarray, num_labels: int) -> np.ndarray:
    """(K, K) int64 pixel counts, rows = ground truth, columns = prediction; void gt ignored."""
    if gt.shape != pred.shape:
        raise ValueError(f"ground truth {gt.shape} and prediction {pred.shape} differ in shape")
    valid = gt != VOID
    gt, pred = gt[valid].astype(np.int64), pred[valid].astype(np.int64)
    if gt.size and (gt.max() >= num_labels or pred.max() >= num_labels):
        raise ValueError(f"a label is outside 0..{num_labels - 1} (and not void {VOID})")
    return np.bincount(gt * num_labels + pred, minlength=num_labels**2).reshape(
        num_labels, num_labels
    )


def class_iou(confusion: np.ndarray) -> np.ndarray:
    """IoU per class, TP / (TP + FP + FN); NaN for a class in neither ground truth nor output."""
    tp = np.diag(confusion).astype(np.float64)
    union = confusion.sum(0) + confusion.sum(1) - tp
    return np.divide(tp, union, out=np.full(len(tp), np.nan), where=union > 0)


def mean_iou(iou: np.ndarray) -> float:
    """Mean over the classes with a defined IoU; NaN when none has one."""
    defined = iou[~np.isnan(iou)]
    return float(defined.mean()) if defined.size else math.nan


def to_voc_values(pred: np.ndarray, classes: list[str]) -> np.ndarray:
    """Network labels -> VOC label values (requires every class to be a VOC class)."""
    lookup = np.zeros(256, dtype=np.uint8)
    for label, name in enumerate(classes, start=1):
        lookup[label] = VOC_CLASSES.index(name)
    return lookup[pred]


def all_protocol_problem(classes: list[str]) -> str | None:
    """Why the 21-label protocol does not apply to a model of `classes` (None if it does)."""
    if set(classes) == set(VOC_CLASSES[1:]):
        return None
    return (
        f"the model's {len(classes)} classes are not the 20 VOC classes; see the `subset` protocol"
    )


class Accumulator:
    """Confusion matrices of the requested protocols, summed image by image."""

    def __init__(self, classes: list[str], protocols: list[str]):
        unknown = sorted(set(protocols) - set(PROTOCOLS))
        if unknown:
            raise ValueError(f"unknown protocols {unknown}; known: {PROTOCOLS}")
        self.classes = list(classes)
        self.problems = {"all": all_protocol_problem(self.classes), "subset": None}
        self.labels = {
            "all": list(VOC_CLASSES),
            "subset": ["background", *self.classes],
        }
        self.protocols = [p for p in PROTOCOLS if p in protocols]
        self.confusion = {p: np.zeros((len(self.labels[p]),) * 2, np.int64) for p in self.protocols}
        self.images = dict.fromkeys(self.protocols, 0)
        self._subset_values = [VOC_CLASSES.index(n) for n in self.classes if n in VOC_CLASSES]

    def wanted(self, voc_mask: np.ndarray) -> list[str]:
        """The protocols that evaluate an image with this VOC ground truth."""
        wanted = []
        for protocol in self.protocols:
            if self.problems[protocol] is not None:
                continue
            if protocol == "subset" and not np.isin(voc_mask, self._subset_values).any():
                continue
            wanted.append(protocol)
        return wanted

    def add(self, voc_mask: np.ndarray, pred: np.ndarray) -> None:
        """Count one image: `voc_mask` VOC label values (255 void), `pred` network labels."""
        for protocol in self.wanted(voc_mask):
            if protocol == "all":
                gt, mapped = voc_mask, to_voc_values(pred, self.classes)
            else:
                gt, mapped = voc_to_labels(voc_mask, self.classes), pred
            self.confusion[protocol] += confusion_matrix(gt, mapped, len(self.labels[protocol]))
            self.images[protocol] += 1

    def results(self) -> dict:
        """Per protocol: `applicable` and `reason`, or the labels, image count, confusion
        matrix, IoU per label (null = undefined), mean IoU and the number of classes in it."""
        out = {}
        for protocol in self.protocols:
            problem = self.problems[protocol]
            if problem is None and self.images[protocol] == 0:
                problem = "no image of the split contains one of the model's classes"
            if problem is not None:
                out[protocol] = {"applicable": False, "reason": problem}
                continue
            iou = class_iou(self.confusion[protocol])
            out[protocol] = {
                "applicable": True,
                "labels": self.labels[protocol],
                "images": self.images[protocol],
                "confusion": self.confusion[protocol],
                "iou": [_json_number(v) for v in iou],
                "mean_iou": _json_number(mean_iou(iou)),
                "classes_in_mean": int((~np.isnan(iou)).sum()),
            }
        return out


def _json_number(value: float) -> float | None:
    """NaN (undefined) as JSON null: NaN is not valid JSON."""
    return None if math.isnan(value) else float(value)


def evaluate(
    model: nn.Module,
    classes: list[str],
    rows: pd.DataFrame,
    cfg: dict,
    device,
    predictions_dir: str | os.PathLike | None = None,
) -> dict:
    """Protocol results (see `Accumulator.results`) of `model` on the images of `rows`."""
    accumulator = Accumulator(classes, cfg["protocols"])
    lookup, palette, _ = output_values(classes)
    for row in tqdm(rows.to_dict("records"), desc="evaluate", unit="image"):
        if row["mask_format"] != "voc":
            raise DataError(row["shot_id"], f"mask format {row['mask_format']!r}, expected voc")
        voc_mask = read_mask(row, 0)
        stray = np.setdiff1d(np.unique(voc_mask), [*range(len(VOC_CLASSES)), VOID])
        if stray.size:
            raise DataError(row["mask_path"], f"values {stray.tolist()} are no VOC labels")
        if not accumulator.wanted(voc_mask):
            continue  # no protocol looks at this image: spare the network pass
        _, (image,) = read_frames(row, [0])
        if image.shape[:2] != voc_mask.shape:
            raise DataError(row["mask_path"], f"mask {voc_mask.shape} != image {image.shape[:2]}")
        scores = predict_scores(model, image, cfg["scales"], cfg["flip"], device)
        pred = scores.argmax(0).cpu().numpy().astype(np.uint8)
        accumulator.add(voc_mask, pred)
        if predictions_dir is not None:
            write_label_png(Path(predictions_dir) / f"{row['video_id']}.png", lookup[pred], palette)
    return accumulator.results()


def run(
    checkpoint: str | os.PathLike,
    index_path: str | os.PathLike,
    split: str,
    cfg: dict,
    output: str | os.PathLike,
    predictions_dir: str | os.PathLike | None = None,
    variant: str | None = None,
    fov: str | None = None,
    seed: int | None = None,
    device: str | None = None,
) -> dict:
    """Evaluate a checkpoint on the `split` images of an index; writes and returns the result.

    `variant`, `fov` and `seed` only tag the result for the tables; `fov` must agree with the
    checkpoint's architecture.
    """
    torch_device = pick_device(device)
    model, ckpt = load_model(checkpoint, torch_device)
    arch = ckpt["model_cfg"].get("arch")
    if fov is not None and fov != arch:
        raise DataError(checkpoint, f"tagged --fov {fov} but the network is {arch}")
    shots = read_shots(index_path)
    rows = shots[shots["split"] == split]
    if rows.empty:
        raise DataError(index_path, f"no image in split {split!r}")
    protocols = evaluate(model, ckpt["classes"], rows, cfg, torch_device, predictions_dir)
    result = {
        "checkpoint": str(checkpoint),
        "classes": list(ckpt["classes"]),
        "index": str(index_path),
        "dataset": str(rows["dataset"].iloc[0]),
        "split": split,
        "variant": variant,
        "fov": fov,
        "seed": seed,
        "settings": {"scales": cfg["scales"], "flip": cfg["flip"]},
        "device": str(torch_device),
        "protocols": protocols,
    }
    write_json(output, result)
    for name, res in protocols.items():
        if res["applicable"]:
            log.info("%s: %d images, mean IoU %s", name, res["images"], res["mean_iou"])
        else:
            log.info("%s: not applicable (%s)", name, res["reason"])
    return result
