"""Dataset entries in the config: defaults per kind, unknown kinds and options rejected."""

from __future__ import annotations

import pytest

from mcnn import config as mcnn_config


def dataset_entry(kind: str, root, **options) -> dict:
    """A validated `datasets.<name>` entry (schema defaults filled), for the reader tests."""
    raw = {"datasets": {"d": {"kind": kind, "root": str(root), **options}}}
    return mcnn_config.validate(raw)["datasets"]["d"]


def test_each_kind_gets_its_own_defaults():
    davis = dataset_entry("davis2016", "/data")
    assert davis["labels_file"] == "video_labels.csv" and davis["resolution"] == "480p"
    segtrack = dataset_entry("segtrack", "/data")
    assert [s["first"] for s in segtrack["sequences"]] == [1, 31, 60, 81, 152]
    assert "labels_file" not in segtrack  # options of other kinds are not filled in
    assert dataset_entry("imagenet_vid", "/data")["keep_unlabelled"] is False


def test_unknown_kind_is_rejected_naming_the_key():
    with pytest.raises(mcnn_config.ConfigError, match=r"'datasets\.d\.kind'.*'youtube'"):
        dataset_entry("youtube", "/data")


def test_option_of_another_kind_is_rejected():
    with pytest.raises(mcnn_config.ConfigError, match=r"'datasets\.d'.*'shot_threshold'"):
        dataset_entry("davis2016", "/data", shot_threshold=30)


def test_bad_option_value_is_rejected():
    with pytest.raises(mcnn_config.ConfigError, match=r"'datasets\.d\.min_shot_length'"):
        dataset_entry("video_files", "/data", min_shot_length=0)
