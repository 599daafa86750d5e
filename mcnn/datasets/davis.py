"""DAVIS 2016: `JPEGImages/<res>/<seq>/%05d.jpg`, binary masks `Annotations/<res>/<seq>/%05d.png`.

Tags come from a CSV (`sequence,label`; `none` = no known class). The split of a sequence comes
from `ImageSets/<res>/{train,val}.txt` of the release when present, else from `db_info.yml`
(`set: training` -> train, `test` -> val), else the `default_split` setting.

Boxes: every frame whose ground-truth mask is not empty gets the box of the whole mask
(`_common.mask_box`), labelled with the sequence's tag. A sequence with no tag or several has
no boxes: DAVIS 2016 masks one (possibly merged) foreground, which is a box of no single class.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import yaml

from mcnn.core.io import DataError
from mcnn.datasets._common import (
    FileLister,
    box_row,
    image_size,
    mask_box,
    numbered_files,
    parse_labels,
    path_template,
    read_tag_csv,
    require_dir,
    shot_row,
)
from mcnn.datasets.frames import read_mask

log = logging.getLogger(__name__)

DB_INFO_SETS = {"training": "train", "test": "val"}


def read(cfg: dict, classes: Sequence[str]) -> tuple[list[dict], list[dict]]:
    root = require_dir(Path(cfg["root"]), "dataset")
    frame_root = require_dir(root / "JPEGImages" / cfg["resolution"], "JPEGImages")
    mask_root = root / "Annotations" / cfg["resolution"]
    sequences = cfg["sequences"] or sorted(p.name for p in frame_root.iterdir() if p.is_dir())
    tags_path = root / cfg["labels_file"]
    tags = read_tag_csv(tags_path, "sequence") if cfg["labels_file"] else {}
    splits = _splits(root, cfg["resolution"])
    lister = FileLister()
    shots, boxes = [], []
    for sequence in sequences:
        if cfg["labels_file"] and sequence not in tags:
            raise DataError(tags_path, f"no row for sequence {sequence!r}")
        labels = parse_labels(tags.get(sequence, ""), classes, tags_path)
        numbers = numbered_files(frame_root / sequence, ".jpg")
        if not numbers:
            raise DataError(frame_root / sequence, "no frame file (%05d.jpg)")
        template = path_template(frame_root / sequence, "{frame:05d}.jpg")
        numbers = range(numbers[0], numbers[-1] + 1)
        lister.require(template, numbers, f"sequence {sequence}")
        mask_template = ""
        if (mask_root / sequence).is_dir():
            mask_template = path_template(mask_root / sequence, "{frame:05d}.png")
            lister.require(mask_template, numbers, f"masks of sequence {sequence}")
        shot = shot_row(
            video_id=sequence,
            k=0,
            labels=labels,
            split=splits.get(sequence, cfg["default_split"]),
            source="frames",
            path=template,
            first=numbers[0],
            last=numbers[-1],
            size=image_size(template.format(frame=numbers[0])),
            mask_path=mask_template,
            mask_format="binary",
        )
        shots.append(shot)
        if mask_template:
            boxes += _mask_boxes(shot, labels, numbers)
    return shots, boxes


def _mask_boxes(shot: dict, labels: Sequence[str], numbers: Sequence[int]) -> list[dict]:
    """Box rows of the frames of a sequence whose ground-truth mask is not empty."""
    if len(labels) != 1:
        log.info("%s: %d tags, so no boxes (a box needs one class)", shot["video_id"], len(labels))
        return []
    masks = ((number, read_mask(shot, number)) for number in numbers)
    return [
        box_row(shot["video_id"], shot["shot_id"], number, labels[0], mask_box(mask))
        for number, mask in masks
        if mask.any()
    ]


def _splits(root: Path, resolution: str) -> dict[str, str]:
    """{sequence: split} from the release's lists or db_info.yml; empty when neither exists."""
    lists = {split: root / "ImageSets" / resolution / f"{split}.txt" for split in ("train", "val")}
    if any(path.is_file() for path in lists.values()):
        # Lines are "/JPEGImages/480p/<seq>/00000.jpg /Annotations/480p/<seq>/00000.png".
        return {
            Path(line.split()[0]).parent.name: split
            for split, path in lists.items()
            if path.is_file()
            for line in path.read_text().splitlines()
            if line.strip()
        }
    db_info = root / "db_info.yml"
    if not db_info.is_file():
        return {}
    try:
        entries = yaml.safe_load(db_info.read_text())["sequences"]
        return {entry["name"]: DB_INFO_SETS[entry["set"]] for entry in entries}
    except (yaml.YAMLError, KeyError, TypeError) as exc:
        raise DataError(db_info, f"not a DAVIS db_info file: {exc!r}") from exc
