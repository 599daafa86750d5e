"""ImageNet VID (ILSVRC2015): snippets `Data/VID/<split>/.../<snippet>/%06d.JPEG` with one XML
annotation per frame, `Annotations/VID/<split>/.../<snippet>/%06d.xml`.

One shot per snippet (as in the paper); its labels are the classes of all its boxes, mapped from
WordNet ids by `mcnn.classes.VID_WNID_TO_CLASS` and kept when in `classes` (other objects are
ignored). When `ImageSets/VID/<split>*.txt` lists exist they select the snippets (train lists
name snippets, `val.txt` names frames); otherwise every folder holding JPEG frames is read.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from mcnn.classes import VID_WNID_TO_CLASS
from mcnn.core.io import DataError
from mcnn.datasets._common import (
    FileLister,
    box_row,
    image_size,
    numbered_files,
    path_template,
    require_dir,
    safe_id,
    shot_id,
    shot_row,
)


def parse_annotation(path: Path) -> list[tuple[str, tuple[float, float, float, float]]]:
    """(WordNet id, (x0, y0, x1, y1)) of each object of one frame's XML file."""
    try:
        tree = ET.parse(path)
    except FileNotFoundError as exc:
        raise DataError(path, "annotation file does not exist") from exc
    except (ET.ParseError, OSError) as exc:
        raise DataError(path, f"XML does not parse: {exc}") from exc
    objects = []
    for obj in tree.getroot().iter("object"):
        try:
            box = obj.find("bndbox")
            coords = tuple(float(box.find(tag).text) for tag in ("xmin", "ymin", "xmax", "ymax"))
            objects.append((obj.find("name").text.strip(), coords))
        except (AttributeError, TypeError, ValueError) as exc:
            raise DataError(path, f"object without a valid name/bndbox: {exc}") from exc
    return objects


def _listed_snippets(root: Path, split: str) -> list[str] | None:
    """Snippet folders (relative to Data/VID/<split>) named by the ImageSets lists, or None."""
    lists = sorted((root / "ImageSets" / "VID").glob(f"{split}*.txt"))
    lists = [p for p in lists if p.stem == split or p.stem.startswith(f"{split}_")]
    if not lists:
        return None
    snippets = set()
    for path in lists:
        for line in path.read_text().splitlines():
            if not line.strip():
                continue
            entry = Path(line.split()[0])
            # val.txt lines name a frame (`<snippet>/000000`), train lists a snippet.
            snippets.add((entry.parent if entry.name.isdigit() else entry).as_posix())
    return sorted(snippets)


def _found_snippets(data_dir: Path) -> list[str]:
    return sorted(
        Path(folder).relative_to(data_dir).as_posix()
        for folder, _, files in os.walk(data_dir)
        if any(name.endswith(".JPEG") for name in files)
    )


def read(cfg: dict, classes: Sequence[str]) -> tuple[list[dict], list[dict]]:
    root = require_dir(Path(cfg["root"]), "dataset")
    class_of_wnid = {w: c for w, c in VID_WNID_TO_CLASS.items() if c in classes}
    lister = FileLister()
    shots, boxes = [], []
    for split in cfg["splits"]:
        data_dir = require_dir(root / "Data" / "VID" / split, "frames")
        ann_dir = require_dir(root / "Annotations" / "VID" / split, "annotations")
        snippets = _listed_snippets(root, split) or _found_snippets(data_dir)
        for snippet in tqdm(snippets, desc=f"ImageNet-VID {split}", unit="snippet"):
            numbers = numbered_files(data_dir / snippet, ".JPEG")
            if not numbers:
                raise DataError(data_dir / snippet, "no frame file (%06d.JPEG)")
            video_id = safe_id(Path(snippet).name)
            template = path_template(data_dir / snippet, "{frame:06d}.JPEG")
            numbers = range(numbers[0], numbers[-1] + 1)
            lister.require(template, numbers, f"snippet {snippet}")
            snippet_boxes = [
                box_row(video_id, shot_id(video_id, 0), frame, class_of_wnid[wnid], box)
                for frame in numbers
                for wnid, box in parse_annotation(ann_dir / snippet / f"{frame:06d}.xml")
                if wnid in class_of_wnid
            ]
            labels = {row["label"] for row in snippet_boxes}
            if not labels and not cfg["keep_unlabelled"]:
                continue
            boxes += snippet_boxes
            shots.append(
                shot_row(
                    video_id=video_id,
                    k=0,
                    labels=sorted(labels, key=list(classes).index),
                    split=split,
                    source="frames",
                    path=template,
                    first=numbers[0],
                    last=numbers[-1],
                    size=image_size(template.format(frame=numbers[0])),
                )
            )
    return shots, boxes
