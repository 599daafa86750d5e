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
    """Frames of a video file by 0-based index, decoded in order from the start.

    Decoding sequentially (grab every frame, retrieve only the wanted ones) is slower than
    seeking but exact: OpenCV's frame seeking is not frame-accurate for every codec.
    """
    wanted = {int(n) for n in numbers}
    if wanted and min(wanted) < 0:
        raise DataError(path, f"frame index {min(wanted)} is negative")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise DataError(path, "video cannot be opened")
    decoded: dict[int, np.ndarray] = {}
    try:
        for index in range(max(wanted, default=-1) + 1):
            if not capture.grab():
                raise DataError(path, f"video ends before frame {index}")
            if index not in wanted:
                continue
            ok, bgr = capture.retrieve()
            if not ok:
                raise DataError(path, f"frame {index} cannot be decoded")
            decoded[index] = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    finally:
        capture.release()
    return np.asarray(numbers, dtype=np.int64), [decoded[int(n)] for n in numbers]


def _require_in_shot(row: Mapping, numbers: np.ndarray) -> None:
    outside = numbers[(numbers < int(row["first_frame"])) | (numbers > int(row["last_frame"]))]
    if outside.size:
        raise DataError(
            row["shot_id"],
            f"frame {int(outside[0])} is outside the shot "
            f"({row['first_frame']}..{row['last_frame']})",
        )
