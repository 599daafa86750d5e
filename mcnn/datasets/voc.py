"""PASCAL VOC 2012 segmentation: `JPEGImages/<id>.jpg`, `SegmentationClass/<id>.png`.

Each listed image is a one-frame shot (source `image`, frame 0, `path` the image file itself).
Its tags are the classes of `classes` present in its mask; other VOC classes are ignored.
Masks are palette PNGs whose pixel values are the label indices (255 = void): they are read
through PIL, because OpenCV expands a palette into colours.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from mcnn.classes import VOC_CLASSES, VOID
from mcnn.core.io import DataError
from mcnn.datasets._common import fixed_path, image_size, require_dir, safe_id, shot_row


def read_voc_mask(path: str | os.PathLike) -> np.ndarray:
    """Label indices (H, W) uint8 of a VOC palette PNG (255 = void); DataError if unreadable."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "mask file does not exist")
    try:
        with Image.open(path) as image:
            if image.mode not in ("P", "L"):
                raise DataError(path, f"mode {image.mode}: expected a palette PNG of label values")
            return np.array(image, dtype=np.uint8)
    except OSError as exc:  # PIL's UnidentifiedImageError and truncated files
        raise DataError(path, f"cannot be decoded: {exc}") from exc


def voc_to_labels(mask: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    """VOC label values -> our labels: `classes[k]` -> k + 1, other VOC classes -> 0, void kept."""
    lookup = np.zeros(256, dtype=np.uint8)
    lookup[VOID] = VOID
    for value, name in enumerate(VOC_CLASSES):
        if name in classes:
            lookup[value] = list(classes).index(name) + 1
    return lookup[mask]


def read(cfg: dict, classes: Sequence[str]) -> tuple[list[dict], list[dict]]:
    root = require_dir(Path(cfg["root"]), "dataset")
    # Label value -> class name for the VOC classes we train on.
    wanted = {value: name for value, name in enumerate(VOC_CLASSES) if name in classes}
    shots = []
    # Relative split folders are taken from the working directory, like every config path.
    lists = Path(cfg["split_lists"]) if cfg["split_lists"] else root / "ImageSets" / "Segmentation"
    for split in cfg["splits"]:
        list_path = lists / f"{split}.txt"
        if not list_path.is_file():
            raise DataError(list_path, f"split list of '{split}' does not exist")
        image_ids = [line.split()[0] for line in list_path.read_text().splitlines() if line.strip()]
        for image_id in tqdm(image_ids, desc=f"VOC {split}", unit="image"):
            image_path = root / "JPEGImages" / f"{image_id}.jpg"
            mask_path = root / "SegmentationClass" / f"{image_id}.png"
            mask = read_voc_mask(mask_path)
            present = set(np.unique(mask).tolist())
            labels = [name for value, name in wanted.items() if value in present]
            if not labels and not cfg["keep_images_without_classes"]:
                continue
            size = image_size(image_path)
            if size != (mask.shape[1], mask.shape[0]):
                raise DataError(mask_path, f"mask size {mask.shape[::-1]} != image size {size}")
            shots.append(
                shot_row(
                    video_id=safe_id(image_id),
                    k=0,
                    labels=sorted(labels, key=list(classes).index),
                    split=split,
                    source="image",
                    path=fixed_path(image_path),
                    first=0,
                    last=0,
                    size=size,
                    mask_path=fixed_path(mask_path),
                    mask_format="voc",
                )
            )
    return shots, []
