"""DAVIS 2016, PASCAL VOC 2012 and SegTrack v1 readers on the real data in ../shared/data."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import shared_dataset
from PIL import Image
from test_datasets_config import dataset_entry

from mcnn.classes import YTO_CLASSES
from mcnn.core.io import DataError
from mcnn.datasets import build_index
from mcnn.datasets.frames import read_frames, read_mask
from mcnn.datasets.voc import voc_to_labels

CLASSES = list(YTO_CLASSES)


def test_davis_sequences_tags_and_masks():
    root = shared_dataset("davis2016")
    shots = build_index("davis", dataset_entry("davis2016", root), CLASSES).shots
    assert len(shots) == 14 and shots["shot_id"].is_unique
    by_video = shots.set_index("video_id")
    assert by_video.loc["bear", "labels"] == ""  # "none" in video_labels.csv
    assert by_video.loc["drift-turn", "labels"] == "car"
    assert by_video.loc["bear", "num_frames"] == 82  # db_info.yml
    assert (shots["split"] == "train").all()  # all 14 are DAVIS training sequences
    assert (shots[["width", "height"]] == [854, 480]).all().all()
    bear = by_video.loc["bear"].to_dict() | {"shot_id": "bear_s000"}
    numbers, frames = read_frames(bear, [0, 81])
    assert numbers.tolist() == [0, 81] and frames[0].shape == (480, 854, 3)
    mask = read_mask(bear, 0)
    assert set(np.unique(mask)) == {0, 1} and 0.05 < mask.mean() < 0.5


def test_davis_label_not_in_classes():
    entry = dataset_entry("davis2016", shared_dataset("davis2016"), sequences=["boat"])
    with pytest.raises(DataError, match=r"video_labels\.csv: label 'boat' is not in classes"):
        build_index("davis", entry, ["car"])


def test_davis_sequence_without_tag_row(tmp_path):
    frames = tmp_path / "JPEGImages" / "480p" / "walk"
    frames.mkdir(parents=True)
    cv2.imwrite(str(frames / "00000.jpg"), np.zeros((4, 4, 3), np.uint8))
    (tmp_path / "video_labels.csv").write_text("sequence,label\nrun,dog\n")
    with pytest.raises(DataError, match=r"video_labels\.csv: no row for sequence 'walk'"):
        build_index("davis", dataset_entry("davis2016", tmp_path), CLASSES)
    shots = build_index("davis", dataset_entry("davis2016", tmp_path, labels_file=""), CLASSES)
    assert shots.shots["labels"].tolist() == [""] and shots.shots["mask_path"].tolist() == [""]


def test_voc_tags_from_the_palette_indices():
    root = shared_dataset("voc2012") / "VOC2012"
    shots = build_index("voc", dataset_entry("voc2012", root, splits=["train"]), CLASSES).shots
    row = shots.set_index("video_id").loc["2007_000032"]  # aeroplanes and people
    assert row["labels"] == "aeroplane" and row["source"] == "image"
    assert (row["first_frame"], row["last_frame"], row["width"], row["height"]) == (0, 0, 500, 281)
    row = row.to_dict() | {"shot_id": "2007_000032_s000"}
    numbers, (image,) = read_frames(row)
    assert numbers.tolist() == [0] and image.shape == (281, 500, 3)
    mask = read_mask(row, 0)
    assert set(np.unique(mask)) == {0, 1, 15, 255}  # background, aeroplane, person, void
    assert (shots["labels"] != "").all()
    everything = dataset_entry("voc2012", root, splits=["train"], keep_images_without_classes=True)
    all_shots = build_index("voc", everything, CLASSES).shots
    assert len(all_shots) == 330 and len(shots) < 330


def test_voc_palette_is_read_as_indices_not_colours():
    path = shared_dataset("voc2012") / "VOC2012" / "SegmentationClass" / "2007_000032.png"
    assert Image.open(path).mode == "P"
    assert cv2.imread(str(path), cv2.IMREAD_UNCHANGED).ndim == 3  # why PIL reads VOC masks


def test_voc_missing_split_list():
    root = shared_dataset("voc2012") / "VOC2012"
    with pytest.raises(DataError, match=r"Segmentation/val\.txt: split list of 'val'"):
        build_index("voc", dataset_entry("voc2012", root), CLASSES)


def test_voc_split_lists_of_our_own(tmp_path):
    root = shared_dataset("voc2012") / "VOC2012"
    (tmp_path / "mine.txt").write_text("2007_000032\n")
    entry = dataset_entry("voc2012", root, splits=["mine"], split_lists=str(tmp_path))
    shots = build_index("voc", entry, CLASSES).shots
    assert shots["video_id"].tolist() == ["2007_000032"] and shots["split"].tolist() == ["mine"]


def test_voc_to_labels():
    mask = np.array([[0, 1, 2], [3, 255, 15]], np.uint8)  # bg, aeroplane, bicycle, bird, void
    expected = np.array([[0, 2, 0], [1, 255, 0]], np.uint8)
    np.testing.assert_array_equal(voc_to_labels(mask, ["bird", "aeroplane"]), expected)


def test_segtrack_shots_and_thresholded_masks():
    root = shared_dataset("segtrack_v1")
    shots = build_index("segtrack", dataset_entry("segtrack", root), CLASSES).shots
    assert shots["video_id"].tolist() == ["birdfall", "cheetah", "girl", "monkeydog", "parachute"]
    assert shots["num_frames"].sum() == 202 and (shots["labels"] == "").all()
    assert shots[["width", "height"]].iloc[1].tolist() == [320, 240]
    girl = shots.iloc[2]
    mask = read_mask(girl, 60)
    raw = cv2.imread(girl["mask_path"].format(frame=60), cv2.IMREAD_GRAYSCALE)
    np.testing.assert_array_equal(mask, (raw >= 128).astype(np.uint8))
    assert mask.any()


def test_segtrack_missing_frame(tmp_path):
    for frame in (1, 2):
        cv2.imwrite(str(tmp_path / f"{frame:08d}.jpg"), np.zeros((4, 4, 3), np.uint8))
    entry = dataset_entry("segtrack", tmp_path, sequences=[{"name": "a", "first": 1, "last": 3}])
    with pytest.raises(DataError, match=r"00000003\.jpg: sequence a: file missing \(1 of 3"):
        build_index("segtrack", entry, CLASSES)


def test_davis_boxes_enclose_the_whole_mask(tmp_path):
    frames = tmp_path / "JPEGImages" / "480p" / "walk"
    masks = tmp_path / "Annotations" / "480p" / "walk"
    frames.mkdir(parents=True)
    masks.mkdir(parents=True)
    mask = np.zeros((20, 30), np.uint8)
    mask[2:6, 3:8] = 255  # the object, cut in two by an occluder: the box spans both parts
    mask[10:18, 15:27] = 255
    for k, frame_mask in enumerate([mask, np.zeros_like(mask)]):  # frame 1: object absent
        cv2.imwrite(str(frames / f"{k:05d}.jpg"), np.zeros((20, 30, 3), np.uint8))
        cv2.imwrite(str(masks / f"{k:05d}.png"), frame_mask)
    (tmp_path / "video_labels.csv").write_text("sequence,label\nwalk,dog\n")
    boxes = build_index("d", dataset_entry("davis2016", tmp_path), CLASSES).boxes
    assert boxes[["shot_id", "frame", "label"]].values.tolist() == [["walk_s000", 0, "dog"]]
    assert boxes[["x0", "y0", "x1", "y1"]].values.tolist() == [[3, 2, 26, 17]]
    (tmp_path / "video_labels.csv").write_text("sequence,label\nwalk,none\n")
    assert build_index("d", dataset_entry("davis2016", tmp_path), CLASSES).boxes.empty


def test_davis_real_boxes_of_tagged_sequences_only():
    entry = dataset_entry("davis2016", shared_dataset("davis2016"), sequences=["bear", "motorbike"])
    index = build_index("davis", entry, CLASSES)
    boxes = index.boxes
    assert len(boxes) == 43 and set(boxes["label"]) == {"motorbike"}  # bear is tagged "none"
    shot = index.shots.set_index("video_id").loc["motorbike"].to_dict() | {
        "shot_id": "motorbike_s000"
    }
    for box in boxes.iloc[[0, 21, 42]].itertuples():
        rows, cols = np.nonzero(read_mask(shot, box.frame))
        assert [box.x0, box.y0, box.x1, box.y1] == [cols.min(), rows.min(), cols.max(), rows.max()]
