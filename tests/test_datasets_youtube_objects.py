"""YouTube-Objects v2.2 reader on a small world written in the release's exact formats."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import scipy.io
from test_datasets_config import dataset_entry

from mcnn.classes import YTO_CLASSES
from mcnn.core.io import DataError
from mcnn.datasets import build_index, write_boxes_mat, write_ranges_mat
from mcnn.datasets.frames import read_frames, read_mask

CLASSES = list(YTO_CLASSES)
WIDTH, HEIGHT = 16, 12


def write_frame(path: Path, value: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((HEIGHT, WIDTH, 3), value, np.uint8))


def make_world(root: Path) -> Path:
    """horse: video 1 = shots 1-4 and 4-8 (the release's repeated frame), video 2 = 9-12,
    video 3 = 13-14 (no boxes); training boxes in video 1, test boxes in video 2."""
    for frame in range(1, 15):
        write_frame(root / "horse" / f"{frame:08d}.jpg", 10 * frame)
    write_ranges_mat(
        root / "Ranges" / "ranges_horse.mat", [[1, 4, 9, 13], [4, 8, 12, 14], [1, 1, 2, 3]]
    )
    gt = root / "GroundTruth" / "horse"
    write_boxes_mat(gt / "bb_gtTraining_horse.mat", [("horse00000006", [[1, 2, 10, 11]])])
    write_boxes_mat(gt / "bb_gtTest_horse.mat", [("horse00000010", [[0, 0, 5, 5], [2, 3, 8, 9]])])
    return root


def test_box_file_has_the_release_structure(tmp_path):
    """Public readers do `loadmat(f)['bb_gtTest'][0]` and unpack each entry as (im, boxes)."""
    path = tmp_path / "bb_gtTest_car.mat"
    write_boxes_mat(path, [("car00000002", np.array([[1, 2, 3, 4], [5, 6, 7, 8]]))])
    ((frame_id, boxes),) = scipy.io.loadmat(path)["bb_gtTest"][0]
    assert frame_id[0] == "car00000002"
    np.testing.assert_array_equal(boxes, [[1, 2, 3, 4], [5, 6, 7, 8]])
    ranges_path = tmp_path / "ranges_car.mat"
    write_ranges_mat(ranges_path, np.array([[1], [5], [3]]))
    assert scipy.io.loadmat(ranges_path)["ranges"].shape == (3, 1)


def test_shots_splits_and_boxes(tmp_path):
    index = build_index("yto", dataset_entry("youtube_objects", make_world(tmp_path)), CLASSES)
    shots = index.shots.set_index("shot_id")
    assert list(shots.index) == [
        "horse_0001_s000",
        "horse_0001_s001",
        "horse_0002_s000",
        "horse_0003_s000",
    ]
    # The repeated frame 4 belongs to the first shot only.
    assert shots.loc["horse_0001_s001", ["first_frame", "last_frame", "num_frames"]].tolist() == [
        5,
        8,
        4,
    ]
    assert shots["split"].tolist() == ["train", "train", "test", "train"]
    assert set(shots["labels"]) == {"horse"}
    assert (shots["width"] == WIDTH).all() and (shots["height"] == HEIGHT).all()
    assert (shots["mask_path"] == "").all()
    boxes = index.boxes
    assert boxes["shot_id"].tolist() == ["horse_0001_s001", "horse_0002_s000", "horse_0002_s000"]
    assert boxes["frame"].tolist() == [6, 10, 10]
    assert boxes[["x0", "y0", "x1", "y1"]].iloc[2].tolist() == [2, 3, 8, 9]
    numbers, frames = read_frames(index.shots.iloc[1], [5, 8])
    assert numbers.tolist() == [5, 8]
    assert [int(f.mean().round()) for f in frames] == [50, 80]


def test_demo_masks_are_used_when_every_frame_has_one(tmp_path):
    root = make_world(tmp_path)
    for frame in range(9, 13):
        mask = np.zeros((HEIGHT, WIDTH), np.uint8)
        mask[2:5, 3:9] = 255
        (root / "Masks" / "horse").mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / "Masks" / "horse" / f"{frame:08d}.png"), mask)
    shots = build_index("yto", dataset_entry("youtube_objects", root), CLASSES).shots
    with_masks = shots[shots["mask_path"] != ""]
    assert with_masks["shot_id"].tolist() == ["horse_0002_s000"]
    mask = read_mask(with_masks.iloc[0], 10)
    assert mask.dtype == np.uint8 and mask.sum() == 18 and mask.max() == 1


def test_missing_ranges_file(tmp_path):
    root = make_world(tmp_path)
    entry = dataset_entry("youtube_objects", root, classes=["horse", "car"])
    with pytest.raises(DataError, match="ranges_car.mat: file does not exist"):
        build_index("yto", entry, CLASSES)


def test_missing_frame_names_the_file_and_shot(tmp_path):
    root = make_world(tmp_path)
    (root / "horse" / "00000011.jpg").unlink()
    with pytest.raises(DataError, match=r"00000011\.jpg: shot horse_0002_s000: file missing"):
        build_index("yto", dataset_entry("youtube_objects", root), CLASSES)


def test_undecodable_first_frame(tmp_path):
    root = make_world(tmp_path)
    (root / "horse" / "00000009.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(DataError, match=r"00000009\.jpg: cannot be decoded"):
        build_index("yto", dataset_entry("youtube_objects", root), CLASSES)


def test_class_not_in_classes(tmp_path):
    entry = dataset_entry("youtube_objects", make_world(tmp_path))
    with pytest.raises(DataError, match=r"ranges_horse\.mat: label 'horse' is not in classes"):
        build_index("yto", entry, ["car", "dog"])


def test_video_with_boxes_in_both_splits(tmp_path):
    root = make_world(tmp_path)
    write_boxes_mat(
        root / "GroundTruth" / "horse" / "bb_gtTest_horse.mat", [("horse00000002", [[0, 0, 4, 4]])]
    )
    with pytest.raises(DataError, match="video horse_0001 has both training and test boxes"):
        build_index("yto", dataset_entry("youtube_objects", root), CLASSES)


def test_malformed_ranges(tmp_path):
    root = make_world(tmp_path)
    scipy.io.savemat(root / "Ranges" / "ranges_horse.mat", {"ranges": np.ones((2, 4))})
    with pytest.raises(DataError, match=r"ranges_horse\.mat: 'ranges' must be a 3 x S matrix"):
        build_index("yto", dataset_entry("youtube_objects", root), CLASSES)
