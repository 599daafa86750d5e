"""Dataset readers: each source, read in its original format, becomes one shot index.

`build_index(name, dataset_cfg, classes)` returns the shot and box tables of docs/CONTRACTS.md
("Shot index"). One module per source kind reads it; `frames` gives frame and mask access.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from mcnn.core.io import DataError
from mcnn.datasets._common import BOX_COLUMNS, SHOT_COLUMNS
from mcnn.datasets.youtube_objects import write_boxes_mat, write_ranges_mat

#: The skipped-files table of an ingest (<dataset>.skipped.csv).
SKIPPED_COLUMNS = ["dataset", "path", "reason"]

__all__ = [
    "BOX_COLUMNS", "SHOT_COLUMNS", "SKIPPED_COLUMNS", "Index", "build_index", "read_boxes",
    "read_shots",
    "write_boxes_mat", "write_ranges_mat",
]  # fmt: skip

#: Dataset `kind` (config) -> reader module; modules load lazily (scenedetect is slow to import).
READERS = {
    "youtube_objects": "youtube_objects",
    "imagenet_vid": "imagenet_vid",
    "davis2016": "davis",
    "voc2012": "voc",
    "video_files": "video_files",
    "segtrack": "segtrack",
}

_SHOT_DTYPES = {
    "dataset": str, "video_id": str, "shot_id": str, "labels": str, "split": str, "source": str,
    "path": str, "mask_path": str, "mask_format": str, "first_frame": "int64",
    "last_frame": "int64", "num_frames": "int64", "width": "int64", "height": "int64",
}  # fmt: skip
_BOX_DTYPES = {
    "dataset": str, "video_id": str, "shot_id": str, "frame": "int64", "label": str,
    "x0": "float64", "y0": "float64", "x1": "float64", "y1": "float64",
}  # fmt: skip


@dataclass(frozen=True)
class Index:
    """The shot table and the box table of one dataset (columns as in the contract)."""

    shots: pd.DataFrame
    boxes: pd.DataFrame
    #: Files under the dataset's root that its reader skipped, and why (path, reason).
    skipped: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=SKIPPED_COLUMNS))


def build_index(name: str, dataset_cfg: dict, classes: Sequence[str]) -> Index:
    """Read dataset `name` (a validated `datasets.<name>` entry) into its shot index."""
    module = importlib.import_module(f"mcnn.datasets.{READERS[dataset_cfg['kind']]}")
    # A reader may also return the files it skipped (video_files does).
    shot_rows, box_rows, *skipped = module.read(dataset_cfg, list(classes))
    shots = _table(name, shot_rows, SHOT_COLUMNS, _SHOT_DTYPES)
    duplicated = shots["shot_id"][shots["shot_id"].duplicated()]
    if not duplicated.empty:
        raise DataError(dataset_cfg["root"], f"shot id {duplicated.iloc[0]!r} occurs twice")
    skipped_rows = skipped[0] if skipped else []
    return Index(
        shots=shots,
        boxes=_table(name, box_rows, BOX_COLUMNS, _BOX_DTYPES),
        skipped=_table(name, skipped_rows, SKIPPED_COLUMNS, {"dataset": str, "path": str}),
    )


def _table(name: str, rows: list[dict], columns: Sequence[str], dtypes: dict) -> pd.DataFrame:
    table = pd.DataFrame(rows, columns=[c for c in columns if c != "dataset"])
    table.insert(0, "dataset", name)
    return table.astype(dtypes)


def read_shots(path: str | os.PathLike) -> pd.DataFrame:
    """Read a `<name>.shots.csv` written by `ingest`; empty labels and masks stay `""`."""
    return _read_table(Path(path), SHOT_COLUMNS, _SHOT_DTYPES)


def read_boxes(path: str | os.PathLike) -> pd.DataFrame:
    """Read a `<name>.boxes.csv` written by `ingest`."""
    return _read_table(Path(path), BOX_COLUMNS, _BOX_DTYPES)


def _read_table(path: Path, columns: Sequence[str], dtypes: dict) -> pd.DataFrame:
    if not path.is_file():
        raise DataError(path, "index table does not exist")
    table = pd.read_csv(path, keep_default_na=False, dtype=str)
    missing = [column for column in columns if column not in table.columns]
    if missing:
        raise DataError(path, f"index table lacks the columns {', '.join(missing)}")
    try:
        return table[list(columns)].astype(dtypes)
    except ValueError as exc:
        raise DataError(path, f"index table has a malformed value: {exc}") from exc
