"""ImageNet-VID reader on snippets with per-frame XML written in the ILSVRC2015 format."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from test_datasets_config import dataset_entry

from mcnn.classes import YTO_CLASSES
from mcnn.core.io import DataError
from mcnn.datasets import build_index

CLASSES = list(YTO_CLASSES)
CAT, BEAR, HORSE = "n02121808", "n02131653", "n02374451"  # domestic_cat, bear (not ours), horse


def annotation_xml(folder: str, frame: int, objects: list[tuple[str, tuple[int, ...]]]) -> str:
    parts = [
        f"<annotation><folder>{folder}</folder><filename>{frame:06d}</filename>"
        "<source><database>ILSVRC_2015</database></source>"
        "<size><width>16</width><height>12</height></size>"
    ]
    for trackid, (wnid, (x0, y0, x1, y1)) in enumerate(objects):
        parts.append(
            f"<object><trackid>{trackid}</trackid><name>{wnid}</name><bndbox>"
            f"<xmax>{x1}</xmax><xmin>{x0}</xmin><ymax>{y1}</ymax><ymin>{y0}</ymin></bndbox>"
            "<occluded>0</occluded><generated>0</generated></object>"
        )
    return "".join(parts) + "</annotation>"


def write_snippet(root: Path, split: str, snippet: str, objects_per_frame: list[list]) -> None:
    for frame, objects in enumerate(objects_per_frame):
        image = root / "Data" / "VID" / split / snippet / f"{frame:06d}.JPEG"
        image.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(image), np.zeros((12, 16, 3), np.uint8))
        xml = root / "Annotations" / "VID" / split / snippet / f"{frame:06d}.xml"
        xml.parent.mkdir(parents=True, exist_ok=True)
        xml.write_text(annotation_xml(snippet, frame, objects))


def make_vid(root: Path) -> Path:
    write_snippet(
        root, "train", "ILSVRC2015_VID_train_0000/ILSVRC2015_train_00000000",
        [[(CAT, (1, 2, 8, 9))], [(CAT, (2, 2, 9, 9)), (HORSE, (0, 0, 5, 5))], []],
    )  # fmt: skip
    write_snippet(root, "train", "ILSVRC2015_VID_train_0000/ILSVRC2015_train_00000001",
                  [[(BEAR, (0, 0, 4, 4))], [(BEAR, (0, 0, 4, 4))]])  # fmt: skip
    write_snippet(root, "val", "ILSVRC2015_val_00000000", [[(HORSE, (3, 3, 6, 6))]])
    return root


def test_labels_are_the_mapped_classes_of_all_boxes(tmp_path):
    entry = dataset_entry("imagenet_vid", make_vid(tmp_path), splits=["train", "val"])
    index = build_index("vid", entry, CLASSES)
    shots = index.shots
    # The bear-only snippet has none of our classes and is dropped by default.
    assert shots["video_id"].tolist() == ["ILSVRC2015_train_00000000", "ILSVRC2015_val_00000000"]
    assert shots["labels"].tolist() == ["cat;horse", "horse"]
    assert shots["split"].tolist() == ["train", "val"]
    assert shots[["first_frame", "last_frame", "num_frames"]].iloc[0].tolist() == [0, 2, 3]
    assert shots["path"].iloc[0].endswith("ILSVRC2015_train_00000000/{frame:06d}.JPEG")
    boxes = index.boxes
    assert boxes["label"].tolist() == ["cat", "cat", "horse", "horse"]
    assert boxes["frame"].tolist() == [0, 1, 1, 0]
    assert boxes[["x0", "y0", "x1", "y1"]].iloc[0].tolist() == [1, 2, 8, 9]


def test_unlabelled_snippets_kept_on_request_and_classes_filter(tmp_path):
    entry = dataset_entry("imagenet_vid", make_vid(tmp_path), keep_unlabelled=True)
    shots = build_index("vid", entry, ["horse"]).shots
    assert shots["labels"].tolist() == ["horse", ""]  # cat is not in classes: ignored


def test_image_sets_select_snippets(tmp_path):
    root = make_vid(tmp_path)
    (root / "ImageSets" / "VID").mkdir(parents=True)
    (root / "ImageSets" / "VID" / "val.txt").write_text("ILSVRC2015_val_00000000/000000 1\n")
    (root / "ImageSets" / "VID" / "train_15.txt").write_text(
        "ILSVRC2015_VID_train_0000/ILSVRC2015_train_00000001 1\n"
    )
    entry = dataset_entry("imagenet_vid", root, splits=["train", "val"], keep_unlabelled=True)
    shots = build_index("vid", entry, CLASSES).shots
    assert shots["video_id"].tolist() == ["ILSVRC2015_train_00000001", "ILSVRC2015_val_00000000"]


def test_xml_that_does_not_parse(tmp_path):
    root = make_vid(tmp_path)
    bad = root / "Annotations/VID/val/ILSVRC2015_val_00000000/000000.xml"
    bad.write_text("<annotation><object>")
    with pytest.raises(DataError, match=r"000000\.xml: XML does not parse"):
        build_index("vid", dataset_entry("imagenet_vid", root, splits=["val"]), CLASSES)


def test_missing_annotation(tmp_path):
    root = make_vid(tmp_path)
    (root / "Annotations/VID/val/ILSVRC2015_val_00000000/000000.xml").unlink()
    with pytest.raises(DataError, match=r"000000\.xml: annotation file does not exist"):
        build_index("vid", dataset_entry("imagenet_vid", root, splits=["val"]), CLASSES)
