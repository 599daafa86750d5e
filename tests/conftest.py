"""Shared fixtures: the real data in ../shared/data and validated default configs."""

from __future__ import annotations

from pathlib import Path

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


@pytest.fixture
def default_config() -> dict:
    """The full default configuration (every section with its schema defaults)."""
    return mcnn_config.validate({})
