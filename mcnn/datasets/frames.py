"""Frame and ground-truth mask access for a row of the shot table (any source)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np

from mcnn.core.io import DataError, read_gray, read_rgb
from mcnn.datasets.voc import read_voc_mask


def shot_frame_numbers(row: Mapping) -> np.ndarray:
    return np.arange(int(row["first_frame"]), int(row["last_frame"]) + 1)


def read_frames(
    row: Mapping, frame_numbers: Sequence[int] | None = None
) -> tuple[np.ndarray, list[np.ndarray]]:
    """(frame numbers, RGB uint8 frames) of a shot; all its frames when `frame_numbers` is None."""
    numbers = shot_frame_numbers(row) if frame_numbers is None else np.asarray(frame_numbers)
    _require_in_shot(row, numbers)
    if row["source"] == "video":
        return decode_video_frames(Path(row["path"]), numbers.tolist())
    if row["source"] in ("frames", "image"):
        return numbers, [read_rgb(row["path"].format(frame=int(n))) for n in numbers]
    raise DataError(row["shot_id"], f"unknown source {row['source']!r}")


def read_mask(row: Mapping, frame: int) -> np.ndarray:
    """Ground-truth mask (H, W) uint8 of one frame of a shot.

    Format `binary`: 0/1 object mask. Files hold 0/1 or 0/255 (with anti-aliased edges, as in
    SegTrack), so a file whose values are all 0 or 1 is taken as is and any other is thresholded
    at 128. Format `voc`: the label values of the file (255 = void), see `voc.voc_to_labels`.
    """
    if not row["mask_path"]:
        raise DataError(row["shot_id"], "shot has no ground-truth mask")
    _require_in_shot(row, np.array([frame]))
    path = row["mask_path"].format(frame=int(frame))
    if row["mask_format"] == "voc":
        return read_voc_mask(path)
    if row["mask_format"] == "binary":
        mask = read_gray(path)
        return (mask > 0 if mask.max() <= 1 else mask >= 128).astype(np.uint8)
    raise DataError(row["shot_id"], f"unknown mask format {row['mask_format']!r}")


def decode_video_frames(
    path: str | os.PathLike, numbers: Sequence[int]
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Frames of a video file by 0-based index, decoded in order.

    Decoding sequentially (grab every frame, retrieve only the wanted ones) is slower than
    seeking but exact: OpenCV's frame seeking is not frame-accurate for every codec. The
    decoder of the last video stays open where it stopped, so that reading a video's shots in
    order (as motion segmentation and sampling do) decodes it once, not once per shot.
    """
    wanted = {int(n) for n in numbers}
    if wanted and min(wanted) < 0:
        raise DataError(path, f"frame index {min(wanted)} is negative")
    decoded: dict[int, np.ndarray] = {}
    if wanted:
        reader = _reader(Path(path), min(wanted))
        try:
            for index, bgr in reader.frames(max(wanted), wanted):
                decoded[index] = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        except BaseException:
            _open_reader.clear()  # a failed or interrupted decoder is not reused
            reader.release()
            raise
    return np.asarray(numbers, dtype=np.int64), [decoded[int(n)] for n in numbers]


class _SequentialReader:
    """An OpenCV decoder of one video and the index of the next frame it will decode."""

    def __init__(self, path: Path):
        self.path = path
        self.capture = cv2.VideoCapture(str(path))
        if not self.capture.isOpened():
            raise DataError(path, "video cannot be opened")
        self.next = 0

    def frames(self, last: int, wanted: set[int]):
        """Decode up to frame `last`, yielding (index, BGR frame) of the `wanted` ones."""
        while self.next <= last:
            index = self.next
            if not self.capture.grab():
                raise DataError(self.path, f"video ends before frame {index}")
            self.next += 1
            if index in wanted:
                ok, bgr = self.capture.retrieve()
                if not ok:
                    raise DataError(self.path, f"frame {index} cannot be decoded")
                yield index, bgr

    def release(self) -> None:
        self.capture.release()


_open_reader: dict[str, _SequentialReader] = {}


def _reader(path: Path, first: int) -> _SequentialReader:
    """The open decoder of `path` if it has not passed frame `first`, else a new one."""
    reader = _open_reader.get("last")
    if reader is not None and (reader.path != path or reader.next > first):
        reader.release()
        reader = None
    if reader is None:
        reader = _open_reader["last"] = _SequentialReader(path)
    return reader


def _require_in_shot(row: Mapping, numbers: np.ndarray) -> None:
    outside = numbers[(numbers < int(row["first_frame"])) | (numbers > int(row["last_frame"]))]
    if outside.size:
        raise DataError(
            row["shot_id"],
            f"frame {int(outside[0])} is outside the shot "
            f"({row['first_frame']}..{row['last_frame']})",
        )
