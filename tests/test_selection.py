"""Shot selection for fine-tuning (paper 3.3): IoU scores and the per-video choice."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from test_training import CLASSES, tiny_params, write_toy_samples

from mcnn import selection
from mcnn.models import build_model, save_checkpoint
from mcnn.shots.samples import SampleStore


def test_frame_ious_known_values():
    predicted = np.zeros((3, 4, 4), bool)
    masks = np.zeros((3, 4, 4), np.uint8)
    predicted[0, :2] = True  # 8 pixels
    masks[0, 1:3] = 1  # 8 pixels, 4 shared -> 4 / 12
    masks[1, 0, 0] = 1  # nothing predicted -> 0
    # frame 2: both empty -> 1
    np.testing.assert_allclose(selection.frame_ious(predicted, masks), [1 / 3, 0.0, 1.0])


def test_best_shot_per_video_kept_above_threshold():
    scores = pd.DataFrame(
        {
            "dataset": ["yt"] * 5,
            "video_id": ["a", "a", "b", "b", "c"],
            "shot_id": ["a_s001", "a_s000", "b_s000", "b_s001", "c_s000"],
            "labels": ["car"] * 5,
            "mean_iou": [0.6, 0.4, 0.15, 0.1, 0.3],
        }
    )
    table = selection.choose_shots(scores, min_iou=0.2).set_index("shot_id")
    assert table["best"].to_dict() == {
        "a_s000": False,
        "a_s001": True,
        "b_s000": True,
        "b_s001": False,
        "c_s000": True,
    }
    # b's best shot scores 0.15 < 0.2: the video contributes no shot.
    assert sorted(table.index[table["selected"]]) == ["a_s001", "c_s000"]


def test_run_scores_shots_with_the_model(tmp_path):
    samples = write_toy_samples(
        tmp_path / "toy.h5", {"a_s000": ("a", "car"), "b_s000": ("b", "cat")}
    )
    params, _ = tiny_params()
    model = build_model(params["model"], 1 + len(CLASSES))
    with torch.no_grad():  # a model that calls every pixel "car"
        model.fc8.weight.zero_()
        model.fc8.bias.copy_(torch.tensor([0.0, 0.0, 5.0, 0.0]))
    save_checkpoint(tmp_path / "model.pt", model, params["model"], CLASSES)
    table = selection.run(
        tmp_path / "model.pt",
        [samples],
        {**params["select"], "min_iou": 0.2},
        tmp_path / "selection.csv",
        device="cpu",
    )
    written = pd.read_csv(tmp_path / "selection.csv")
    assert list(written.columns) == [*selection.COLUMNS, "device"] and len(written) == 2
    assert set(written["device"]) == {"cpu"}
    # All-foreground predictions: each frame's IoU is the mask's share of the frame.
    store = SampleStore(samples)
    for row in table.itertuples():
        masks = store.read(row.shot_id).masks
        assert row.mean_iou == pytest.approx(masks.mean(axis=(1, 2)).mean())
        assert row.selected  # one shot per video, each above 0.2 (a quarter of the frame)
