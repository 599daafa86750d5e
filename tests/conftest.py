"""Shared fixtures: the real data in ../shared/data and validated default configs."""

from __future__ import annotations

import os
from pathlib import Path

# One intra-op thread for the tests' own torch and OpenCV work, set before either is imported:
# their tensors are tiny, and on a 2-core machine with anything else running, two threads that
# spin-wait for each other made one 600-step test training take 6 minutes instead of 4 s.
# (Workflow jobs get theirs from Snakemake, which sets the same variables from `threads:`.)
os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2
import numpy as np
import pytest

from mcnn import config as mcnn_config

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def shared_dataset(name: str) -> Path:
    """Path of a real dataset in ../shared/data; skips the test when it is absent."""
    path = SHARED_DATA / name
    if not path.is_dir():
        pytest.skip(f"real data {path} is absent (it ships beside the repo as ../shared/data)")
    return path


def random_potts_problem(rng, n_labels: int, shape=(3, 3)):
    """Random unaries (L, H, W) and per-direction Potts weights (4, H, W) of a small grid, with
    zero weight on edges that leave the grid (as `mcnn.labels.energy.pairwise_weights` gives)."""
    from mcnn.labels import energy

    unary = rng.uniform(0, 4, (n_labels, *shape))
    weights = rng.uniform(0, 3, (4, *shape))
    for d, offset in enumerate(energy.OFFSETS):
        valid = np.zeros(shape, bool)
        valid[energy.edge_slices(offset, shape)[0]] = True
        weights[d][~valid] = 0
    return unary, weights


@pytest.fixture
def default_config() -> dict:
    """The full default configuration (every section with its schema defaults)."""
    return mcnn_config.validate({})


def write_tiny_davis(root: Path, sequences=("seqa", "seqb"), frames: int = 5) -> Path:
    """A DAVIS-2016-layout folder (a red square moving over blurred noise) tagged car, cat, ..."""
    rng = np.random.default_rng(0)
    background = cv2.GaussianBlur(rng.integers(0, 255, (72, 96, 3), dtype=np.uint8), (7, 7), 0)
    for sequence in sequences:
        folder = root / "JPEGImages" / "480p" / sequence
        folder.mkdir(parents=True)
        for k in range(frames):
            image = background.copy()
            image[20:50, 10 + 4 * k : 35 + 4 * k] = (30, 30, 200)
            cv2.imwrite(str(folder / f"{k:05d}.jpg"), image)
    tags = dict(zip(sequences, ["car", "cat"] * len(sequences), strict=False))
    lines = ["sequence,label", *(f"{name},{tag}" for name, tag in tags.items())]
    (root / "video_labels.csv").write_text("\n".join(lines) + "\n")
    return root


def real_davis_shots(tmp_path: Path, video_id: str):
    """The real DAVIS shot index of one sequence, also written to tmp_path/davis.shots.csv."""
    from mcnn.datasets import build_index

    config = mcnn_config.validate(
        {"datasets": {"davis": {"kind": "davis2016", "root": str(shared_dataset("davis2016"))}}}
    )
    shots = build_index("davis", config["datasets"]["davis"], config["classes"]).shots
    shots = shots[shots["video_id"] == video_id]
    index = tmp_path / "davis.shots.csv"
    shots.to_csv(index, index=False)
    return shots, index


def pytest_collection_modifyitems(items):
    """The tests of an xdist group first (stable order otherwise): under `make test`'s two
    pytest-xdist workers the two long ones -- the tiny workflow run with the tests that share
    it, and the Slurm run, most of which is waiting for the plugin's status checks -- then
    start at once on the two workers, and the short tests fill in around them."""
    items.sort(key=lambda item: item.get_closest_marker("xdist_group") is None)
