"""User prediction: folders, single images and videos; VOC values and colours in the PNGs."""

from __future__ import annotations

import json
import re

import cv2
import numpy as np
import pandas as pd
import pytest
from PIL import Image
from test_eval_voc import constant_checkpoint

from mcnn.classes import VOC_CLASSES, label_palette, voc_palette
from mcnn.cli import main as cli_main
from mcnn.core.io import DataError, write_image
from mcnn.predict import _batches, output_values, predict


def test_voc_class_names_give_voc_values_and_colours(tmp_path):
    folder = tmp_path / "in"
    for name, shape in (("a", (20, 30)), ("b", (20, 30)), ("c", (16, 16))):
        write_image(folder / f"{name}.jpg", np.full((*shape, 3), 200, np.uint8))
    (folder / "notes.txt").write_text("not an image")
    ckpt = constant_checkpoint(tmp_path / "m.pt", ["cat", "dog"], label=2)  # dog everywhere
    out = tmp_path / "out"
    cli_main(["predict", "--checkpoint", str(ckpt), "--input", str(folder), "--output", str(out),
              "--device", "cpu", "--batch-size", "4"])  # fmt: skip
    png = Image.open(out / "c.png")
    dog = VOC_CLASSES.index("dog")
    assert png.mode == "P" and png.size == (16, 16)
    assert np.unique(np.array(png)).tolist() == [dog]
    assert png.getpalette()[3 * dog : 3 * dog + 3] == voc_palette()[dog].tolist()
    overlay = cv2.imread(str(out / "a_overlay.jpg"))[..., ::-1].astype(int)
    expected = (200 + voc_palette()[dog].astype(int)) / 2
    assert np.abs(overlay - expected).max() <= 3  # JPEG
    assert json.loads((out / "classes.json").read_text()) == {
        "0": "background", "8": "cat", "12": "dog",
    }  # fmt: skip


def test_other_class_names_keep_network_labels():
    lookup, palette, names = output_values(["cat", "gnome"])
    assert lookup[:3].tolist() == [0, 1, 2]
    assert (palette == label_palette(["cat", "gnome"])).all()
    assert names == {0: "background", 1: "cat", 2: "gnome"}


def test_video_frames_and_a_single_image(tmp_path):
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (24, 16))
    for k in range(5):
        writer.write(np.full((16, 24, 3), 40 * k, np.uint8))
    writer.release()
    ckpt = constant_checkpoint(tmp_path / "m.pt", ["gnome"], label=1)
    assert predict(ckpt, video, tmp_path / "v", device="cpu", batch_size=2) == 5
    names = sorted(p.name for p in (tmp_path / "v").glob("*.png"))
    assert names == [f"frame_{k:06d}.png" for k in range(5)]
    assert np.unique(np.array(Image.open(tmp_path / "v" / "frame_000004.png"))).tolist() == [1]
    write_image(tmp_path / "one.png", np.zeros((8, 8, 3), np.uint8))
    assert predict(ckpt, tmp_path / "one.png", tmp_path / "o", device="cpu") == 1


def test_batches_hold_one_size_and_bad_inputs_fail(tmp_path):
    frames = [(str(k), np.zeros(shape)) for k, shape in enumerate([(2, 2), (2, 2), (2, 2), (3, 3)])]
    assert [names for names, _ in _batches(iter(frames), 2)] == [["0", "1"], ["2"], ["3"]]
    ckpt = constant_checkpoint(tmp_path / "m.pt", ["cat"], label=1)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no image"):
        predict(ckpt, tmp_path / "empty", tmp_path / "o", device="cpu")
    (tmp_path / "junk.mp4").write_bytes(b"not a video")
    with pytest.raises(DataError):
        predict(ckpt, tmp_path / "junk.mp4", tmp_path / "o", device="cpu")
    with pytest.raises(ValueError, match="batch size"):
        predict(ckpt, tmp_path / "empty", tmp_path / "o", batch_size=0)


def test_an_undecodable_video_frame_is_recorded_and_decoding_goes_on(tmp_path):
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (24, 16))
    for k in range(5):
        writer.write(np.full((16, 24, 3), 40 * k, np.uint8))
    writer.release()
    data = bytearray(video.read_bytes())
    start = [m.start() for m in re.finditer(b"\xff\xd8", data)][2]  # frame 2's JPEG
    end = data.index(b"\xff\xd9", start) + 2
    data[start:end] = bytes(end - start)
    video.write_bytes(data)
    ckpt = constant_checkpoint(tmp_path / "m.pt", ["gnome"], label=1)
    assert predict(ckpt, video, tmp_path / "v", device="cpu", batch_size=2) == 4
    names = sorted(p.name for p in (tmp_path / "v").glob("*.png"))
    assert names == [f"frame_{k:06d}.png" for k in (0, 1, 3, 4)]
    failed = pd.read_csv(tmp_path / "v" / "failed.csv")
    assert failed.to_dict("records") == [
        {"input": str(video), "frame": 2, "reason": "frame cannot be decoded (OpenCV read failed)"}
    ]
