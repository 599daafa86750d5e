"""The label-figures step on a small samples file written in the contract's layout."""

import json

import h5py
import numpy as np
import pytest

from mcnn.core.io import DataError, read_rgb
from mcnn.steps import label_figures


def _write_samples(path, labels):
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (10, 24, 32, 3), dtype=np.uint8)
    masks = np.zeros((10, 24, 32), np.uint8)
    masks[:, 6:18, 8:20] = 1
    with h5py.File(path, "w") as f:
        group = f.create_group("shots/vid_s000")
        group["frames"] = frames
        group["masks"] = masks
        group["boundary"] = masks * 255
        group["frame_numbers"] = np.arange(10)
        group.attrs.update(dataset="demo", video_id="vid", labels=labels)


def test_figure_is_written_and_unknown_tags_are_named(tmp_path, default_config):
    pytest.importorskip("mcnn.shots.samples", reason="the samples store is not written yet")
    samples = tmp_path / "samples.h5"
    _write_samples(samples, "cat")
    out = tmp_path / "fig.png"
    args = [
        "--samples", str(samples), "--shot", "vid_s000", "--output", str(out),
        "--params", json.dumps(default_config["labels"]),
        "--classes", json.dumps(default_config["classes"]),
    ]  # fmt: skip
    from mcnn.cli import main

    main(["label-figures", *args])
    image = read_rgb(out)
    assert image.shape[0] > 200 and image.shape[1] > image.shape[0]
    _write_samples(samples, "unicorn")
    with pytest.raises(DataError, match="vid_s000"):
        label_figures.run(
            str(samples), "vid_s000", default_config["labels"], default_config["classes"],
            None, 0, str(out),
        )  # fmt: skip


def test_search_note_names_accepted_iterations_and_fallbacks():
    from mcnn.labels import SoftInference

    search = SoftInference(
        np.zeros((3, 4, 4), np.uint8),
        np.zeros((3, 3)),
        np.array([2, 0, 1]),
        np.array([False, True, False]),
    )
    assert label_figures.search_note(search) == (
        "1.00 accepted iterations per frame, 1 of 3 frames fell back"
    )
    assert label_figures.search_note(None) == ""
