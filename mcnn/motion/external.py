"""Precomputed motion masks (`motion.method: external`) instead of FST.

Layout (DAVIS): `<root>/<video_id>/<name>` with `name` = `external.pattern` formatted with the
frame number (default `{frame:05d}.png`, e.g. 00000.png), one binary PNG per frame of every shot,
the size of the video's frames. Values 0/1 or 0/255 (anything >= 128 is foreground when the
file holds values above 1). A user can so feed masks from any video-segmentation method;
pruning, sampling, labels and training read them as they read FST's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mcnn.core.io import DataError, read_gray
from mcnn.datasets.frames import shot_frame_numbers
from mcnn.motion.flow import resize_to_max_side
from mcnn.motion.store import ShotMotion


def mask_folder(cfg: dict, video_id: str) -> Path:
    root = cfg["external"]["root"]
    if not root:
        raise DataError("config", "motion.external.root is empty: method 'external' needs it")
    return Path(root) / str(video_id)


def read_external_mask(path: Path, size: tuple[int, int]) -> np.ndarray:
    """(H, W) bool mask from `path`, of (H, W) = `size`; a DataError naming the file otherwise."""
    if not path.is_file():
        raise DataError(path, "motion mask file does not exist (motion.method: external)")
    mask = read_gray(path)
    if mask.shape != size:
        raise DataError(
            path, f"motion mask is {mask.shape[1]}x{mask.shape[0]}, the frame {size[1]}x{size[0]}"
        )
    return mask > 0 if mask.max() <= 1 else mask >= 128


def external_shot(row: dict, cfg: dict) -> ShotMotion:
    """The precomputed masks of one shot-table row, shrunk as FST's (longer side max_side).

    A video without a mask folder gives a failed shot (its reason reaches the pruning table);
    a missing or mis-sized file inside an existing folder is an error naming the file.
    """
    folder = mask_folder(cfg, row["video_id"])
    if not folder.is_dir():
        return ShotMotion.failed(row["shot_id"], f"no external mask folder {folder}")
    size = (int(row["height"]), int(row["width"]))
    numbers = shot_frame_numbers(row)
    masks = []
    for number in numbers:
        path = folder / cfg["external"]["pattern"].format(frame=int(number))
        full = read_external_mask(path, size).astype(np.uint8)
        small = resize_to_max_side(full * 255, cfg["flow"]["max_side"])
        masks.append(small >= 128)
    masks = np.stack(masks).astype(np.uint8)
    return ShotMotion(
        shot_id=row["shot_id"],
        status="ok",
        reason="",
        frame_numbers=np.asarray(numbers, np.int64),
        masks=masks,
        boundary=np.zeros_like(masks),  # no motion boundaries come with external masks
        scale=masks.shape[1] / size[0],
    )


def check_pattern(pattern: str) -> None:
    """The file-name pattern must take the frame number (`{frame...}`)."""
    try:
        pattern.format(frame=0)
    except (KeyError, IndexError, ValueError) as exc:
        raise DataError("config", f"motion.external.pattern {pattern!r}: {exc}") from None
    if pattern.format(frame=0) == pattern.format(frame=1):
        raise DataError("config", f"motion.external.pattern {pattern!r} has no {{frame}} field")
