"""Training samples, one HDF5 per dataset (see docs/CONTRACTS.md, "Training samples HDF5").

One group `/shots/<shot_id>` per kept shot with `frames` (N, h, w, 3), `masks` (N, h, w),
`boundary` (N, h, w) and `frame_numbers` (N,), optionally `truth` (N, h, w) 0/1 ground-truth
object masks (when the dataset has them for every sampled frame; used only to measure the
latent labels, never to train), and attributes `dataset`, `video_id`, `labels`.
Each array is one chunk, so loading a shot's mini-batch is one contiguous read; LZF compression
because it decodes several times faster than gzip and training reads every shot many times.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from mcnn.core.io import DataError, atomic_path

ARRAYS = ("frames", "masks", "boundary", "frame_numbers")


@dataclass(frozen=True)
class ShotSample:
    """The sampled frames of one shot with their motion masks, boundary maps and tags."""

    frames: np.ndarray
    masks: np.ndarray
    boundary: np.ndarray
    frame_numbers: np.ndarray
    dataset: str
    video_id: str
    labels: list[str]
    shot_id: str
    truth: np.ndarray | None = None  # (N, h, w) 0/1 ground truth, where the dataset has it


def write_samples(path: str | os.PathLike, samples: Iterable[ShotSample], params: dict) -> int:
    """Write shot samples (consumed one at a time) atomically; returns the number of shots."""
    path = Path(path)
    count = 0
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as h5:
        h5.attrs["params"] = json.dumps(params, sort_keys=True)
        group = h5.create_group("shots")
        for sample in samples:
            _check(path, sample)
            g = group.create_group(sample.shot_id)
            g.attrs["dataset"] = sample.dataset
            g.attrs["video_id"] = sample.video_id
            g.attrs["labels"] = ";".join(sample.labels)
            for name in ARRAYS:
                data = np.asarray(getattr(sample, name))
                g.create_dataset(name, data=data, chunks=data.shape, compression="lzf")
            if sample.truth is not None:
                truth = np.asarray(sample.truth, np.uint8)
                g.create_dataset("truth", data=truth, chunks=truth.shape, compression="lzf")
            count += 1
    return count


def _check(path: Path, sample: ShotSample) -> None:
    n, h, w = sample.masks.shape
    expected = {"frames": (n, h, w, 3), "boundary": (n, h, w), "frame_numbers": (n,)}
    if sample.truth is not None:
        expected["truth"] = (n, h, w)
    for name, shape in expected.items():
        if np.shape(getattr(sample, name)) != shape:
            raise DataError(
                path, f"shot {sample.shot_id}: {name} {np.shape(getattr(sample, name))} != {shape}"
            )


class SampleStore:
    """Read-only access to a training-sample file; safe to share with DataLoader workers.

    The HDF5 handle is opened lazily in each process (h5py handles must not cross a fork).
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._h5: h5py.File | None = None
        self._pid: int | None = None
        self.shot_ids: list[str] = list(self._file()["shots"])

    def _file(self) -> h5py.File:
        if self._h5 is None or self._pid != os.getpid():
            if not self.path.is_file():
                raise DataError(self.path, "sample file does not exist")
            try:
                self._h5 = h5py.File(self.path, "r")
            except OSError as exc:
                problem = f"cannot be read as HDF5 (empty or corrupt): {exc}"
                raise DataError(self.path, problem) from None
            self._pid = os.getpid()
            if "shots" not in self._h5:
                raise DataError(self.path, "not a sample file (no /shots group)")
        return self._h5

    def __len__(self) -> int:
        return len(self.shot_ids)

    def read(self, shot_id: str) -> ShotSample:
        """All arrays and tags of one shot."""
        try:
            g = self._file()["shots"][shot_id]
        except KeyError:
            raise DataError(self.path, f"no shot {shot_id!r} in the sample file") from None
        labels = str(g.attrs["labels"])
        return ShotSample(
            **{name: g[name][()] for name in ARRAYS},
            dataset=str(g.attrs["dataset"]),
            video_id=str(g.attrs["video_id"]),
            labels=labels.split(";") if labels else [],
            shot_id=shot_id,
            truth=g["truth"][()] if "truth" in g else None,
        )

    def shot_table(self) -> pd.DataFrame:
        """shot_id, dataset, video_id, labels (`;`-joined) of every shot, from attributes only."""
        shots = self._file()["shots"]
        rows = [
            {"shot_id": s, **{k: str(shots[s].attrs[k]) for k in ("dataset", "video_id", "labels")}}
            for s in self.shot_ids
        ]
        return pd.DataFrame(rows, columns=["shot_id", "dataset", "video_id", "labels"])

    def close(self) -> None:
        if self._h5 is not None:
            self._h5.close()
            self._h5 = None

    def __enter__(self) -> SampleStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_h5": None, "_pid": None}
