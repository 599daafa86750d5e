"""Helpers shared by the dataset readers: shot rows, label parsing, frame-file checks."""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import cv2
import numpy as np

from mcnn.core.io import DataError

SHOT_COLUMNS = (
    "dataset", "video_id", "shot_id", "labels", "split", "source", "path", "mask_path",
    "mask_format", "first_frame", "last_frame", "num_frames", "width", "height",
)  # fmt: skip
BOX_COLUMNS = ("dataset", "video_id", "shot_id", "frame", "label", "x0", "y0", "x1", "y1")

#: Tag values that mean "no known class" (the DAVIS labels file writes `none`).
NO_CLASS = ("", "none")

_UNSAFE_ID_CHARS = re.compile(r"[^A-Za-z0-9_.-]")


def safe_id(text: str) -> str:
    """`text` usable as a file name, HDF5 group and Snakemake wildcard (`[A-Za-z0-9_.-]+`)."""
    return _UNSAFE_ID_CHARS.sub("_", text)


def shot_id(video_id: str, k: int) -> str:
    return f"{video_id}_s{k:03d}"


def path_template(directory: Path, pattern: str) -> str:
    """Absolute `{frame}` template: braces in the directory are escaped so `.format` keeps them."""
    return os.path.join(fixed_path(directory), pattern)


def fixed_path(path: Path) -> str:
    """An absolute path for the `path` / `mask_path` columns with no `{frame}` field."""
    return str(Path(path).resolve()).replace("{", "{{").replace("}", "}}")


def parse_labels(text: str, classes: Sequence[str], where: str | os.PathLike) -> list[str]:
    """`;`-separated class names -> list in class order; `none`/empty means no known class."""
    names = [name.strip() for name in str(text).split(";")]
    names = [name for name in names if name.lower() not in NO_CLASS]
    for name in names:
        if name not in classes:
            raise DataError(where, f"label {name!r} is not in classes ({', '.join(classes)})")
    return sorted(set(names), key=list(classes).index)


def read_tag_csv(path: Path, key_column: str) -> dict[str, str]:
    """A two-column tag table (`<key_column>,label`) -> {key: label text}."""
    if not path.is_file():
        raise DataError(path, "labels file does not exist")
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or not {key_column, "label"} <= set(reader.fieldnames):
            raise DataError(path, f"labels file needs the columns '{key_column}' and 'label'")
        tags: dict[str, str] = {}
        for line, row in enumerate(reader, start=2):
            key = (row[key_column] or "").strip()
            if key in tags:
                raise DataError(path, f"line {line}: {key_column} {key!r} is listed twice")
            tags[key] = row["label"] or ""
    return tags


class FileLister:
    """Existence checks for many frame files: each folder is listed once, not one stat per file."""

    def __init__(self) -> None:
        self._listings: dict[Path, frozenset[str]] = {}

    def names(self, directory: Path) -> frozenset[str]:
        if directory not in self._listings:
            names = os.listdir(directory) if directory.is_dir() else ()
            self._listings[directory] = frozenset(names)
        return self._listings[directory]

    def missing(self, template: str, numbers: Iterable[int]) -> list[Path]:
        paths = [Path(template.format(frame=number)) for number in numbers]
        return [path for path in paths if path.name not in self.names(path.parent)]

    def require(self, template: str, numbers: Sequence[int], what: str) -> None:
        """Raise DataError naming the first missing file of `what` (a shot, a mask set)."""
        missing = self.missing(template, numbers)
        if missing:
            raise DataError(
                missing[0], f"{what}: file missing ({len(missing)} of {len(numbers)} missing)"
            )


def numbered_files(directory: Path, suffix: str) -> list[int]:
    """Frame numbers of the files `<digits><suffix>` in `directory`, sorted."""
    if not directory.is_dir():
        raise DataError(directory, "frame folder does not exist")
    pattern = re.compile(rf"(\d+){re.escape(suffix)}")
    return sorted(
        int(match.group(1)) for name in os.listdir(directory) if (match := pattern.fullmatch(name))
    )


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """(width, height) of an image, decoding it so that a corrupt file is caught at ingest."""
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        problem = "cannot be decoded (corrupt or not an image)" if Path(path).is_file() else None
        raise DataError(path, problem or "image file does not exist")
    return image.shape[1], image.shape[0]


def shot_row(
    *,
    video_id: str,
    k: int,
    labels: Sequence[str],
    split: str,
    source: str,
    path: str,
    first: int,
    last: int,
    size: tuple[int, int],
    mask_path: str = "",
    mask_format: str = "",
) -> dict:
    """One row of the shot table (without `dataset`, added by build_index)."""
    return {
        "video_id": video_id,
        "shot_id": shot_id(video_id, k),
        "labels": ";".join(labels),
        "split": split,
        "source": source,
        "path": path,
        "mask_path": mask_path,
        "mask_format": mask_format if mask_path else "",
        "first_frame": int(first),
        "last_frame": int(last),
        "num_frames": int(last) - int(first) + 1,
        "width": int(size[0]),
        "height": int(size[1]),
    }


def box_row(video_id: str, shot: str, frame: int, label: str, box: Sequence[float]) -> dict:
    x0, y0, x1, y1 = (float(value) for value in box)
    return {
        "video_id": video_id, "shot_id": shot, "frame": int(frame), "label": label,
        "x0": x0, "y0": y0, "x1": x1, "y1": y1,
    }  # fmt: skip


def mask_box(mask: np.ndarray) -> list[int]:
    """Inclusive (x0, y0, x1, y1) of the first and last rows / columns of a non-empty mask.

    The box of the whole mask, not of its largest component: a ground-truth object cut in two
    by an occluder is still one object, and its box spans both parts.
    """
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return [int(cols[0]), int(rows[0]), int(cols[-1]), int(rows[-1])]


def require_dir(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise DataError(path, f"{what} folder does not exist")
    return path
