"""labels_quality.csv/png of a training run: IoU of the latent labels with the ground truth."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from test_training import CLASSES, square_shot, tiny_params

from mcnn import train as tr
from mcnn.shots.samples import SampleStore, write_samples
from mcnn.train.label_quality import pooled_iou


def _samples_with_truth(path, with_truth=True):
    rng = np.random.default_rng(0)
    shots = []
    for shot_id, label in (("a1_s000", "aeroplane"), ("c1_s000", "car")):
        shot = square_shot(shot_id, shot_id[:2], label, rng)
        # the ground truth is the square; the motion mask misses its left quarter
        masks = shot.masks.copy()
        for t in range(len(masks)):
            cols = np.flatnonzero(masks[t].any(0))
            masks[t][:, cols[: len(cols) // 4]] = 0
        shots.append(replace(shot, masks=masks, truth=shot.masks))
    write_samples(path, shots, {})
    return path


def test_sample_store_keeps_optional_truth(tmp_path):
    path = _samples_with_truth(tmp_path / "s.h5")
    sample = SampleStore(path).read("a1_s000")
    assert sample.truth is not None and sample.truth.shape == sample.masks.shape
    assert (sample.truth >= sample.masks).all() and (sample.truth > sample.masks).any()


def test_pooled_iou():
    a = np.zeros((2, 4, 4), bool)
    b = a.copy()
    assert math.isnan(pooled_iou(a, b))
    a[0, :2] = True
    b[0, :1] = True
    b[1, 0] = True
    assert pooled_iou(a, b) == pytest.approx(4 / 12)


@pytest.mark.parametrize("strategy", ["hard", "mcnn"])
def test_run_writes_label_quality_over_iterations(tmp_path, strategy):
    samples = _samples_with_truth(tmp_path / "s.h5")
    params, labels_cfg = tiny_params(iterations=4, label_prefetch=0)
    summary = tr.train(
        sample_paths=[samples],
        params=params,
        labels_cfg=labels_cfg,
        classes=CLASSES,
        strategy=strategy,
        seed=3,
        output_dir=tmp_path / "run",
    )
    table = pd.read_csv(tmp_path / "run" / "labels_quality.csv")
    assert table["iteration"].tolist() == [1, 2, 3, 4]
    assert table[["label_iou", "motion_iou"]].apply(lambda c: c.between(0, 1)).all().all()
    assert (table["motion_iou"] < 1).all()  # the motion masks miss part of the object
    assert (tmp_path / "run" / "labels_quality.png").stat().st_size > 0
    written = json.loads((tmp_path / "run" / "train.json").read_text())
    assert written["label_iou_first_tenth"] == pytest.approx(table["label_iou"].iloc[0])
    if strategy == "hard":  # the hard labels are the motion masks
        np.testing.assert_allclose(table["label_iou"], table["motion_iou"])
        assert (table["searched"] == 0).all() and summary["labels_fallback_share"] is None
    else:
        assert (table["searched"] > 0).all()
        share = table["fell_back"].sum() / table["searched"].sum()
        assert summary["labels_fallback_share"] == pytest.approx(share)
        accepted = table["accepted"].sum() / table["searched"].sum()
        assert summary["labels_accepted_iterations"] == pytest.approx(accepted) and accepted > 0
