"""Motion segmentation results, one HDF5 file per video (see docs/CONTRACTS.md, "Motion HDF5").

Layout: root attributes `video_id` and `params` (the motion settings as JSON); one group
`/shots/<shot_id>` per shot with attributes `status`, `reason`, `scale` and datasets
`frame_numbers` (T,), `masks` (T, h, w) and `boundary` (T, h, w). Masks and boundary maps are
gzip-compressed and chunked by frame, so reading a few frames of a long shot decodes only those.
A failed shot keeps its group, with empty arrays, so that its reason reaches the pruning table.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from mcnn.core.io import DataError, atomic_path

STATUSES = ("ok", "failed")
# Masks are mostly long runs of 0/1 and compress well at level 4; higher levels only cost time.
GZIP_LEVEL = 4


@dataclass(frozen=True)
class ShotMotion:
    """The motion segmentation of one shot.

    `masks` are 0/1 foreground masks, `boundary` the FST motion-boundary strength scaled to
    0..255, both (T, h, w) uint8 at `scale` = h / original frame height.
    """

    shot_id: str
    status: str
    reason: str
    frame_numbers: np.ndarray
    masks: np.ndarray
    boundary: np.ndarray
    scale: float

    @classmethod
    def failed(cls, shot_id: str, reason: str) -> ShotMotion:
        """A shot whose motion segmentation failed: empty arrays, `reason` says why."""
        return cls(
            shot_id=shot_id,
            status="failed",
            reason=reason,
            frame_numbers=np.zeros(0, dtype=np.int64),
            masks=np.zeros((0, 0, 0), dtype=np.uint8),
            boundary=np.zeros((0, 0, 0), dtype=np.uint8),
            scale=0.0,
        )

    @property
    def num_frames(self) -> int:
        return int(self.frame_numbers.shape[0])


def _check_shot(path: Path, shot: ShotMotion) -> None:
    where = f"shot {shot.shot_id}"
    if shot.status not in STATUSES:
        raise DataError(path, f"{where}: status {shot.status!r} is not one of {STATUSES}")
    if shot.status == "failed":
        if not shot.reason:
            raise DataError(path, f"{where}: a failed shot needs a reason")
        return
    masks, boundary, numbers = shot.masks, shot.boundary, np.asarray(shot.frame_numbers)
    if masks.ndim != 3 or masks.shape[0] == 0:
        raise DataError(path, f"{where}: masks must be (T, h, w) with T > 0, got {masks.shape}")
    if boundary.shape != masks.shape:
        raise DataError(path, f"{where}: boundary {boundary.shape} != masks {masks.shape}")
    if numbers.shape != (masks.shape[0],):
        raise DataError(path, f"{where}: {numbers.shape[0]} frame numbers for {len(masks)} masks")
    if masks.dtype != np.uint8 or boundary.dtype != np.uint8:
        raise DataError(path, f"{where}: masks and boundary must be uint8")
    if masks.max() > 1:
        raise DataError(path, f"{where}: masks must hold 0/1, found {int(masks.max())}")
    if not shot.scale > 0:
        raise DataError(path, f"{where}: scale must be positive, got {shot.scale}")


def write_video_motion(
    path: str | os.PathLike,
    video_id: str,
    shots: Sequence[ShotMotion],
    params: dict,
    device: str = "cpu",
) -> None:
    """Write the motion results of one video atomically (temporary file, then rename)."""
    path = Path(path)
    shot_ids = [shot.shot_id for shot in shots]
    if len(set(shot_ids)) != len(shot_ids):
        raise DataError(path, f"video {video_id}: duplicate shot ids {shot_ids}")
    for shot in shots:
        _check_shot(path, shot)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as h5:
        h5.attrs["video_id"] = video_id
        h5.attrs["params"] = json.dumps(params, sort_keys=True)
        h5.attrs["device"] = device
        group = h5.create_group("shots")
        for shot in shots:
            g = group.create_group(shot.shot_id)
            g.attrs["status"] = shot.status
            g.attrs["reason"] = shot.reason
            g.attrs["scale"] = float(shot.scale)
            g.create_dataset("frame_numbers", data=np.asarray(shot.frame_numbers, np.int64))
            for name in ("masks", "boundary"):
                data = getattr(shot, name)
                if data.size == 0:
                    # h5py cannot chunk an empty array; a failed shot stores it contiguous.
                    g.create_dataset(name, data=np.zeros((0, 0, 0), np.uint8))
                else:
                    g.create_dataset(
                        name,
                        data=data,
                        chunks=(1, *data.shape[1:]),
                        compression="gzip",
                        compression_opts=GZIP_LEVEL,
                    )


def _open(path: Path) -> h5py.File:
    if not path.is_file():
        raise DataError(path, "motion file does not exist")
    try:
        h5 = h5py.File(path, "r")
    except OSError as exc:
        raise DataError(path, f"cannot be read as HDF5 (empty or corrupt): {exc}") from None
    if "video_id" not in h5.attrs or "shots" not in h5:
        h5.close()
        raise DataError(path, "not a motion file (no video_id attribute or /shots group)")
    return h5


def _read_shot(path: Path, h5: h5py.File, shot_id: str, indices=None) -> ShotMotion:
    try:
        g = h5["shots"][shot_id]
    except KeyError:
        raise DataError(path, f"no shot {shot_id!r} in the motion file") from None
    try:
        numbers = g["frame_numbers"][()]
        select = slice(None) if indices is None else np.asarray(indices)
        if g.attrs["status"] == "ok" and indices is not None:
            numbers = numbers[select]
            masks, boundary = g["masks"][select], g["boundary"][select]
        else:
            masks, boundary = g["masks"][()], g["boundary"][()]
        return ShotMotion(
            shot_id=shot_id,
            status=str(g.attrs["status"]),
            reason=str(g.attrs["reason"]),
            frame_numbers=numbers,
            masks=masks,
            boundary=boundary,
            scale=float(g.attrs["scale"]),
        )
    except (KeyError, OSError) as exc:
        raise DataError(path, f"shot {shot_id}: damaged group: {exc}") from None


def read_video_motion(path: str | os.PathLike) -> dict[str, ShotMotion]:
    """All shots of a motion file, by shot id; an empty or corrupt file raises DataError."""
    path = Path(path)
    with _open(path) as h5:
        return {shot_id: _read_shot(path, h5, shot_id) for shot_id in h5["shots"]}


def read_shot_motion(
    path: str | os.PathLike, shot_id: str, indices: Sequence[int] | None = None
) -> ShotMotion:
    """One shot of a motion file; `indices` (increasing positions in the shot) reads only those."""
    path = Path(path)
    if indices is not None and np.any(np.diff(indices) <= 0):
        raise ValueError(f"indices must be strictly increasing, got {list(indices)}")
    with _open(path) as h5:
        return _read_shot(path, h5, shot_id, indices)


def read_shot_frame_numbers(path: str | os.PathLike, shot_id: str) -> np.ndarray:
    """Frame numbers of one shot, without decoding its masks."""
    path = Path(path)
    with _open(path) as h5:
        if shot_id not in h5["shots"]:
            raise DataError(path, f"no shot {shot_id!r} in the motion file")
        return h5["shots"][shot_id]["frame_numbers"][()]


def read_motion_params(path: str | os.PathLike) -> tuple[str, dict]:
    """(video_id, motion settings) recorded in a motion file."""
    path = Path(path)
    with _open(path) as h5:
        return str(h5.attrs["video_id"]), json.loads(h5.attrs["params"])


def shot_status_table(paths: Iterable[str | os.PathLike]) -> pd.DataFrame:
    """One row per shot of the given motion files, read from metadata only (no mask decoding).

    Columns: video_id, shot_id, status, reason, num_frames, height, width, scale, path.
    """
    rows = []
    for path in map(Path, paths):
        with _open(path) as h5:
            video_id = str(h5.attrs["video_id"])
            for shot_id, g in h5["shots"].items():
                shape = g["masks"].shape
                rows.append(
                    {
                        "video_id": video_id,
                        "shot_id": shot_id,
                        "status": str(g.attrs["status"]),
                        "reason": str(g.attrs["reason"]),
                        "num_frames": int(shape[0]),
                        "height": int(shape[1]),
                        "width": int(shape[2]),
                        "scale": float(g.attrs["scale"]),
                        "path": str(path),
                    }
                )
    columns = ["video_id", "shot_id", "status", "reason", "num_frames", "height", "width"]
    return pd.DataFrame(rows, columns=[*columns, "scale", "path"])
