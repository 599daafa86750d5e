"""Raw video files: shot detection, frame decoding by index, and the `ingest` step end to end."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from conftest import shared_dataset
from test_datasets_config import dataset_entry

from mcnn import cli
from mcnn.classes import YTO_CLASSES
from mcnn.core.io import DataError
from mcnn.datasets import build_index, read_boxes, read_shots
from mcnn.datasets.frames import read_frames

CLASSES = list(YTO_CLASSES)
RED, BLUE = (200, 30, 30), (20, 40, 220)  # RGB


def write_two_shot_video(path: Path, frames_per_shot: int = 20) -> None:
    """A video whose first half is a red scene and second half a blue one (one cut)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (32, 24))
    yy, xx = np.mgrid[0:24, 0:32]
    for colour in (RED, BLUE):
        for t in range(frames_per_shot):
            frame = np.empty((24, 32, 3), np.uint8)
            frame[:] = colour[::-1]  # BGR
            frame[(xx - t) % 16 < 4] //= 2  # moving stripes: content changes a little
            writer.write(frame)
    writer.release()


def test_two_shots_detected_and_decoded_by_index(tmp_path):
    write_two_shot_video(tmp_path / "clips" / "toy car.avi")
    (tmp_path / "labels.csv").write_text("file,label\nclips/toy car.avi,car\n")
    shots = build_index("vf", dataset_entry("video_files", tmp_path), CLASSES).shots
    assert shots["shot_id"].tolist() == ["clips_toy_car_s000", "clips_toy_car_s001"]
    assert shots[["first_frame", "last_frame"]].values.tolist() == [[0, 19], [20, 39]]
    assert (shots["labels"] == "car").all() and (shots["source"] == "video").all()
    assert shots[["width", "height"]].iloc[0].tolist() == [32, 24]
    numbers, frames = read_frames(shots.iloc[1], [20, 39])
    assert numbers.tolist() == [20, 39]
    first = frames[0].reshape(-1, 3).max(axis=0)
    np.testing.assert_allclose(first, BLUE, atol=12)
    with pytest.raises(DataError, match=r"clips_toy_car_s000: frame 20 is outside the shot"):
        read_frames(shots.iloc[0], [20])


def test_threshold_setting_controls_cuts(tmp_path):
    write_two_shot_video(tmp_path / "a.avi")
    entry = dataset_entry("video_files", tmp_path, labels_file="", shot_threshold=255.0)
    assert len(build_index("vf", entry, CLASSES).shots) == 1


def test_real_mp4_is_one_shot_of_100_frames():
    root = shared_dataset("fbms_bear01")
    shots = build_index("fbms", dataset_entry("video_files", root, labels_file=""), CLASSES).shots
    assert shots[["first_frame", "last_frame", "width", "height"]].values.tolist() == [
        [0, 99, 960, 540]
    ]
    _, frames = read_frames(shots.iloc[0], [99])
    assert frames[0].shape == (540, 960, 3)


def test_tag_file_errors(tmp_path):
    write_two_shot_video(tmp_path / "a.avi", frames_per_shot=2)
    labels = tmp_path / "labels.csv"
    labels.write_text("file,label\nb.avi,car\n")
    with pytest.raises(DataError, match=r"labels\.csv: lists 'b\.avi', which is not a video"):
        build_index("vf", dataset_entry("video_files", tmp_path), CLASSES)
    labels.write_text("file,label\n")
    with pytest.raises(DataError, match=r"labels\.csv: no row for video file 'a\.avi'"):
        build_index("vf", dataset_entry("video_files", tmp_path), CLASSES)
    labels.write_text("file,label\na.avi,zebra\n")
    with pytest.raises(DataError, match=r"labels\.csv: label 'zebra' is not in classes"):
        build_index("vf", dataset_entry("video_files", tmp_path), CLASSES)


def test_corrupt_video_file(tmp_path):
    (tmp_path / "broken.mp4").write_bytes(b"not a video")
    with pytest.raises(DataError, match=r"broken\.mp4: video cannot be opened"):
        build_index("vf", dataset_entry("video_files", tmp_path, labels_file=""), CLASSES)


def test_ingest_step_writes_both_tables(tmp_path):
    write_two_shot_video(tmp_path / "data" / "a.avi")
    (tmp_path / "data" / "labels.csv").write_text("file,label\na.avi,none\n")
    raw_entry = {"kind": "video_files", "root": str(tmp_path / "data")}  # defaults filled inside
    shots_csv, boxes_csv = tmp_path / "index" / "v.shots.csv", tmp_path / "index" / "v.boxes.csv"
    cli.main([
        "ingest", "--name", "v", "--params", json.dumps(raw_entry),
        "--classes", json.dumps(CLASSES), "--shots", str(shots_csv), "--boxes", str(boxes_csv),
    ])  # fmt: skip
    shots = read_shots(shots_csv)
    expected = build_index("v", dataset_entry("video_files", tmp_path / "data"), CLASSES).shots
    assert shots.equals(expected)
    assert shots["labels"].tolist() == ["", ""] and shots["dataset"].tolist() == ["v", "v"]
    assert read_boxes(boxes_csv).empty
    assert sorted(p.name for p in shots_csv.parent.iterdir()) == ["v.boxes.csv", "v.shots.csv"]


def test_files_that_are_not_videos_are_listed_in_the_log_and_the_skipped_table(tmp_path, caplog):
    data = tmp_path / "data"
    write_two_shot_video(data / "a.avi")
    (data / "labels.csv").write_text("file,label\na.avi,car\n")
    (data / "clips").mkdir()
    (data / "clips" / "c.part").write_bytes(b"a clip with an extension not in `extensions`")
    (data / "notes.txt").write_text("shot list")
    (data / "a.boxes.txt").write_text("1,1,2,2\n" * 40)  # the video's boxes: read, not skipped
    raw_entry = {"kind": "video_files", "root": str(data)}
    index = tmp_path / "index"
    cli.main([
        "ingest", "--name", "v", "--params", json.dumps(raw_entry), "--classes",
        json.dumps(CLASSES), "--shots", str(index / "v.shots.csv"),
        "--boxes", str(index / "v.boxes.csv"), "--skipped", str(index / "v.skipped.csv"),
    ])  # fmt: skip
    assert f"{data}: skipped 2 files that are not videos: clips/c.part, notes.txt" in caplog.text
    skipped = pd.read_csv(index / "v.skipped.csv")
    assert skipped["path"].tolist() == [str(data / "clips" / "c.part"), str(data / "notes.txt")]
    assert skipped["dataset"].tolist() == ["v", "v"]
    assert skipped["reason"].str.startswith("not a video file (extensions: .avi").all()


def test_lasot_sidecar_boxes_by_shot(tmp_path):
    write_two_shot_video(tmp_path / "a.avi")  # 40 frames of 32x24, shots 0-19 and 20-39
    (tmp_path / "labels.csv").write_text("file,label\na.avi,car\n")
    lines = ["2,3,10,5"] * 40
    lines[1] = "0,0,0,0"  # LaSOT's line for an absent target: no box
    lines[25] = "30,20,10,10"  # partly out of view: clipped to the frame
    sidecar = tmp_path / "a.boxes.txt"
    sidecar.write_text("\n".join(lines) + "\n")
    boxes = build_index("vf", dataset_entry("video_files", tmp_path), CLASSES).boxes
    assert len(boxes) == 39 and 1 not in boxes["frame"].tolist()
    by_frame = boxes.set_index("frame")
    # 1-based x=2, w=10 -> 0-based columns 1..10
    assert by_frame.loc[0, ["x0", "y0", "x1", "y1"]].tolist() == [1, 2, 10, 6]
    assert by_frame.loc[25, ["x0", "y0", "x1", "y1"]].tolist() == [29, 19, 31, 23]
    assert by_frame.loc[19, "shot_id"] == "a_s000" and by_frame.loc[20, "shot_id"] == "a_s001"
    assert (boxes["label"] == "car").all() and (boxes["video_id"] == "a").all()


@pytest.mark.parametrize(
    ("line", "text", "message"),
    [
        (2, "2;3;10;5", r"a\.boxes\.txt: line 3: '2;3;10;5' is not x,y,w,h"),
        (4, "2,3,-1,5", r"a\.boxes\.txt: line 5: '2,3,-1,5' has a negative"),
        (6, "40,3,4,4", r"a\.boxes\.txt: line 7: '40,3,4,4' is outside the 32x24 frame"),
        (39, None, r"a\.boxes\.txt: 39 lines for a video of 40 frames"),
    ],
)
def test_lasot_sidecar_errors_name_the_file_and_line(tmp_path, line, text, message):
    write_two_shot_video(tmp_path / "a.avi")
    (tmp_path / "labels.csv").write_text("file,label\na.avi,car\n")
    lines = ["2,3,10,5"] * 40
    lines[line] = text
    (tmp_path / "a.boxes.txt").write_text("\n".join(filter(None, lines)) + "\n")
    with pytest.raises(DataError, match=message):
        build_index("vf", dataset_entry("video_files", tmp_path), CLASSES)


def test_lasot_sidecar_needs_one_tag(tmp_path):
    write_two_shot_video(tmp_path / "a.avi", frames_per_shot=2)
    (tmp_path / "a.boxes.txt").write_text("1,1,2,2\n" * 4)
    with pytest.raises(DataError, match=r"a\.boxes\.txt: boxes need a video with exactly one tag"):
        build_index("vf", dataset_entry("video_files", tmp_path, labels_file=""), CLASSES)


def test_real_lasot_clip_boxes(tmp_path):
    root = shared_dataset("web_clips")
    for name in ("aeroplane-lasot1.mp4", "aeroplane-lasot1.boxes.txt"):
        (tmp_path / name).symlink_to(root / name)
    (tmp_path / "labels.csv").write_text("file,label\naeroplane-lasot1.mp4,aeroplane\n")
    boxes = build_index("web", dataset_entry("video_files", tmp_path), CLASSES).boxes
    assert boxes["frame"].tolist() == list(range(300)) and (boxes["label"] == "aeroplane").all()
    # line 1 "367,101,41,16": 1-based columns 367..407, rows 101..116
    assert boxes.loc[0, ["x0", "y0", "x1", "y1"]].tolist() == [366, 100, 406, 115]
    assert (boxes["x1"] < 640).all() and (boxes["y1"] < 360).all()
