"""YouTube-Objects v2.2: frames `<class>/<8-digit>.jpg`, shots and boxes in MATLAB files.

Layout (all paths under the dataset root):
- `Ranges/ranges_<class>.mat`: variable `ranges`, a 3 x S double matrix; column s holds the
  first frame, the last frame (inclusive, in the file numbering) and the video number of shot s.
- `GroundTruth/<class>/bb_gtTraining_<class>.mat` and `bb_gtTest_<class>.mat`: variable
  `bb_gtTraining` / `bb_gtTest`, a 1 x N struct array with fields `im` (frame id such as
  `aeroplane00001234`: class name + 8-digit frame number) and `boxes` (K x 4, x0 y0 x1 y1).
  This is the structure public readers of the release rely on (`loadmat(f)[var][0]` unpacks to
  `(im, boxes)` and MATLAB code uses `bb_gtTraining(i).im` / `.boxes`); fields are read by
  position, so other field names load too.
- Demo extension: `Masks/<class>/<8-digit>.png` binary ground-truth masks (real YTO has none).

A video's split is `train` when its frames carry training boxes, `test` for test boxes, and the
`unannotated_split` setting otherwise. The release repeats a frame in the horse ranges (one
shot ends where the next starts): overlapping shots are trimmed so every frame has one shot.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import scipy.io
from tqdm import tqdm

from mcnn.core.io import DataError, atomic_path
from mcnn.datasets._common import (
    FileLister,
    box_row,
    image_size,
    parse_labels,
    path_template,
    require_dir,
    shot_id,
    shot_row,
)

log = logging.getLogger(__name__)

#: Box files per split: (split, MATLAB variable = file name prefix).
BOX_FILES = (("train", "bb_gtTraining"), ("test", "bb_gtTest"))
FRAME_PATTERN = "{frame:08d}.jpg"
MASK_PATTERN = "{frame:08d}.png"
#: MAT-file header text (116 bytes; readers use only the version bytes after it).
MAT_HEADER = b"MATLAB 5.0 MAT-file, Platform: posix, written by mcnn"
MAT_HEADER_TEXT_BYTES = 116


def _save_mat(path: str | Path, variables: dict) -> None:
    """`scipy.io.savemat` with a fixed header: scipy stamps the time into the header text, which
    would make the same data give different bytes on every run."""
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, variables)
    data = buffer.getvalue()
    with atomic_path(path) as tmp:
        tmp.write_bytes(MAT_HEADER.ljust(MAT_HEADER_TEXT_BYTES) + data[MAT_HEADER_TEXT_BYTES:])


def write_ranges_mat(path: str | Path, ranges: np.ndarray) -> None:
    """Write `Ranges/ranges_<class>.mat`: `ranges` (3, S) int = first frame, last frame, video."""
    ranges = np.asarray(ranges)
    if ranges.ndim != 2 or ranges.shape[0] != 3:
        raise ValueError(f"ranges must have shape (3, S), got {ranges.shape}")
    _save_mat(path, {"ranges": ranges.astype(np.float64)})


def write_boxes_mat(path: str | Path, entries: Sequence[tuple[str, np.ndarray]]) -> None:
    """Write `bb_gtTraining_<class>.mat` / `bb_gtTest_<class>.mat` (variable named by the file).

    `entries`: (frame id like `aeroplane00001234`, (N, 4) boxes x0 y0 x1 y1) per annotated frame.
    """
    variable = _box_variable(Path(path))
    struct = np.zeros((1, len(entries)), dtype=[("im", object), ("boxes", object)])
    for i, (frame_id, boxes) in enumerate(entries):
        struct[0, i]["im"] = str(frame_id)
        struct[0, i]["boxes"] = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    _save_mat(path, {variable: struct})


def _box_variable(path: Path) -> str:
    for _, variable in BOX_FILES:
        if path.name.startswith(f"{variable}_"):
            return variable
    names = " or ".join(f"{variable}_<class>.mat" for _, variable in BOX_FILES)
    raise ValueError(f"{path}: a box file is named {names}")


def _loadmat(path: Path, variable: str) -> np.ndarray:
    if not path.is_file():
        raise DataError(path, "file does not exist")
    try:
        contents = scipy.io.loadmat(path)
    except (OSError, ValueError, TypeError, NotImplementedError) as exc:
        raise DataError(path, f"cannot be read as a MATLAB file: {exc}") from exc
    if variable not in contents:
        raise DataError(path, f"has no variable '{variable}'")
    return contents[variable]


def read_ranges_mat(path: str | Path) -> np.ndarray:
    """`ranges` of a ranges file as (3, S) int64; a malformed file raises DataError."""
    path = Path(path)
    ranges = np.asarray(_loadmat(path, "ranges"))
    if ranges.ndim != 2 or ranges.shape[0] != 3 or not np.issubdtype(ranges.dtype, np.number):
        raise DataError(path, f"'ranges' must be a 3 x S matrix, got shape {ranges.shape}")
    if not np.array_equal(ranges, np.round(ranges)):
        raise DataError(path, "'ranges' holds non-integer frame numbers")
    ranges = ranges.astype(np.int64)
    bad = np.flatnonzero(ranges[1] < ranges[0])
    if bad.size:
        s = bad[0]
        raise DataError(path, f"shot {s}: last frame {ranges[1, s]} < first {ranges[0, s]}")
    return ranges


def read_boxes_mat(path: str | Path, class_name: str) -> list[tuple[int, np.ndarray]]:
    """(frame number, (N, 4) float boxes) per entry of a `bb_gt*` file of `class_name`."""
    path = Path(path)
    struct = _loadmat(path, _box_variable(path))
    if struct.dtype.names is None or len(struct.dtype.names) < 2:
        raise DataError(path, "expected a struct array with fields (im, boxes)")
    entries = []
    for entry in struct.ravel():
        frame_id = np.asarray(entry[0]).ravel()
        frame_id = str(frame_id[0]) if frame_id.size == 1 else ""
        digits = frame_id.removeprefix(class_name)
        if not (frame_id.startswith(class_name) and len(digits) == 8 and digits.isdigit()):
            raise DataError(path, f"frame id {frame_id!r} is not '{class_name}' + 8 digits")
        boxes = np.asarray(entry[1], dtype=np.float64)
        if boxes.size % 4:
            raise DataError(path, f"{frame_id}: boxes of shape {boxes.shape} are not N x 4")
        entries.append((int(digits), boxes.reshape(-1, 4)))
    return entries


def _trim_repeated_frames(ranges: np.ndarray, path: Path) -> np.ndarray:
    """Shots sorted by first frame, each starting after the previous ends (see module doc)."""
    ranges = ranges[:, np.argsort(ranges[0], kind="stable")]
    kept = []
    previous_last = -1
    for first, last, video in ranges.T:
        if first <= previous_last:
            log.warning(
                "%s: shot %d-%d repeats frames up to %d; starting it at %d",
                path, first, last, previous_last, previous_last + 1,
            )  # fmt: skip
            first = previous_last + 1
        if first <= last:
            kept.append((first, last, video))
        previous_last = max(previous_last, last)
    return np.array(kept, dtype=np.int64).reshape(-1, 3).T


def _class_names(root: Path, cfg: dict) -> list[str]:
    if cfg["classes"]:
        return list(cfg["classes"])
    ranges_dir = require_dir(root / "Ranges", "Ranges")
    names = sorted(p.stem.removeprefix("ranges_") for p in ranges_dir.glob("ranges_*.mat"))
    if not names:
        raise DataError(ranges_dir, "no ranges_<class>.mat file")
    return names


def read(cfg: dict, classes: Sequence[str]) -> tuple[list[dict], list[dict]]:
    root = require_dir(Path(cfg["root"]), "dataset")
    lister = FileLister()
    shots, boxes = [], []
    for class_name in tqdm(_class_names(root, cfg), desc="YouTube-Objects", unit="class"):
        class_shots, class_boxes = _read_class(root, class_name, cfg, classes, lister)
        shots += class_shots
        boxes += class_boxes
    return shots, boxes


def _read_class(
    root: Path, class_name: str, cfg: dict, classes: Sequence[str], lister: FileLister
) -> tuple[list[dict], list[dict]]:
    ranges_path = root / "Ranges" / f"ranges_{class_name}.mat"
    parse_labels(class_name, classes, ranges_path)  # raises when the class is not in classes
    first, last, video = _trim_repeated_frames(read_ranges_mat(ranges_path), ranges_path)
    video_ids = np.array([f"{class_name}_{number:04d}" for number in video])
    # k-th shot of its video, in frame order: the `_s<k>` of the shot id.
    k_in_video = np.zeros(len(first), dtype=int)
    for vid in np.unique(video_ids):
        members = np.flatnonzero(video_ids == vid)
        k_in_video[members] = np.arange(members.size)
    shot_ids = [shot_id(vid, k) for vid, k in zip(video_ids, k_in_video, strict=True)]

    split_of_video: dict[str, str] = {}
    boxes = []
    for split, variable in BOX_FILES:
        box_path = root / "GroundTruth" / class_name / f"{variable}_{class_name}.mat"
        entries = read_boxes_mat(box_path, class_name)
        frames = np.array([frame for frame, _ in entries], dtype=np.int64)
        shot_of_frame = _shot_of_frames(frames, first, last)
        for (frame, frame_boxes), s in zip(entries, shot_of_frame, strict=True):
            if s < 0:
                log.warning("%s: frame %d is in no shot; its boxes are left out", box_path, frame)
                continue
            vid = video_ids[s]
            if split_of_video.setdefault(vid, split) != split:
                raise DataError(box_path, f"video {vid} has both training and test boxes")
            boxes += [box_row(vid, shot_ids[s], frame, class_name, box) for box in frame_boxes]

    frame_template = path_template(root / class_name, FRAME_PATTERN)
    mask_template = path_template(root / "Masks" / class_name, MASK_PATTERN)
    shots = []
    for s, sid in enumerate(shot_ids):
        numbers = range(first[s], last[s] + 1)
        lister.require(frame_template, numbers, f"shot {sid}")
        has_masks = not lister.missing(mask_template, numbers)
        shots.append(
            shot_row(
                video_id=video_ids[s],
                k=int(k_in_video[s]),
                labels=[class_name],
                split=split_of_video.get(video_ids[s], cfg["unannotated_split"]),
                source="frames",
                path=frame_template,
                first=first[s],
                last=last[s],
                size=image_size(frame_template.format(frame=first[s])),
                mask_path=mask_template if has_masks else "",
                mask_format="binary",
            )
        )
    return shots, boxes


def _shot_of_frames(frames: np.ndarray, first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """Index of the shot holding each frame (shots sorted and disjoint), -1 for none."""
    candidate = np.searchsorted(first, frames, side="right") - 1
    inside = (candidate >= 0) & (frames <= last[np.maximum(candidate, 0)])
    return np.where(inside, candidate, -1)
