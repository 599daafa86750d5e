"""Boxes of a video file in LaSOT's `groundtruth.txt` format, read from a sidecar file.

A `video_files` folder may hold `<video stem>.boxes.txt` beside a video: one line per decoded
frame, in order, `x,y,w,h` of the tagged object in 1-based pixels (LaSOT's format). LaSOT
flags absent targets in separate files (full_occlusion.txt, out_of_view.txt) and writes
`0,0,0,0` on their lines: a line with zero width or height is a frame without a box.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from mcnn.core.io import DataError
from mcnn.datasets._common import box_row, shot_id

SUFFIX = ".boxes.txt"


def sidecar_path(video: Path) -> Path:
    return video.with_name(video.stem + SUFFIX)


def read_lasot_boxes(
    path: Path, size: tuple[int, int]
) -> list[tuple[float, float, float, float] | None]:
    """Inclusive 0-based (x0, y0, x1, y1) per line of a LaSOT box file, None for `0,0,0,0`.

    A box is clipped to the frame `size` (width, height): a target partly out of view keeps its
    visible part, the only part a prediction can cover.
    """
    width, height = size
    boxes = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        try:
            x, y, w, h = (float(value) for value in line.split(","))
        except ValueError:
            raise DataError(path, f"line {number}: {line!r} is not x,y,w,h") from None
        if not all(map(math.isfinite, (x, y, w, h))) or w < 0 or h < 0:
            raise DataError(path, f"line {number}: {line!r} has a negative or non-finite value")
        if w == 0 or h == 0:
            boxes.append(None)
            continue
        # 1-based x..x+w-1 -> 0-based inclusive columns x-1..x+w-2.
        x0, y0 = max(x - 1, 0), max(y - 1, 0)
        x1, y1 = min(x + w - 2, width - 1), min(y + h - 2, height - 1)
        if x0 > x1 or y0 > y1:
            raise DataError(path, f"line {number}: {line!r} is outside the {width}x{height} frame")
        boxes.append((x0, y0, x1, y1))
    return boxes


def sidecar_box_rows(
    path: Path,
    video_id: str,
    ranges: Sequence[tuple[int, int]],
    labels: Sequence[str],
    size: tuple[int, int],
) -> list[dict]:
    """Box rows of a video from its sidecar: line k is 0-based frame k - 1 of the shot holding it.

    `ranges` are the video's inclusive (first, last) shot frame ranges, `labels` its tags.
    """
    if len(labels) != 1:
        raise DataError(path, f"boxes need a video with exactly one tag, it has {list(labels)}")
    boxes = read_lasot_boxes(path, size)
    frames = ranges[-1][1] + 1
    if len(boxes) != frames:
        raise DataError(path, f"{len(boxes)} lines for a video of {frames} frames")
    return [
        box_row(video_id, shot_id(video_id, k), frame, labels[0], boxes[frame])
        for k, (first, last) in enumerate(ranges)
        for frame in range(first, last + 1)
        if boxes[frame] is not None
    ]
