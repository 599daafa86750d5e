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
from mcnn.core.io import DataError
from mcnn.shots.samples import SampleStore, write_samples
from mcnn.train.label_quality import pooled_iou, quality_summary, write_label_quality


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
    # The paper's energy, which moves these eroded masks (the default prior holds them).
    labels_cfg = {**labels_cfg, "mask_prior": 0.0}
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


def test_label_curves_gather_every_run_with_its_gain_over_the_masks(tmp_path):
    from argparse import Namespace

    from mcnn.steps import label_curves

    runs = []
    for stage, strategy, seed, gain in [
        ("train", "mcnn", 0, 0.1),
        ("train", "mcnn", 1, 0.3),
        ("train", "hard", 0, 0.0),
        ("finetune", "mcnn", 0, -0.2),
    ]:
        folder = tmp_path / f"{stage}-{strategy}-{seed}"
        folder.mkdir()
        masks = np.linspace(0.4, 0.6, 20)
        labels = masks + np.linspace(0, gain, 20)  # the gain grows to `gain` at the end
        history = [
            {"iteration": k + 1, "batch": "s", "label_iou": label, "motion_iou": mask,
             "searched": 0, "fell_back": 0, "accepted": 0}
            for k, (label, mask) in enumerate(zip(labels, masks, strict=True))
        ]  # fmt: skip
        write_label_quality(folder, history)  # as a training writes them
        summary = {"stage": stage, "strategy": strategy, "seed": seed}
        (folder / "train.json").write_text(json.dumps(summary | quality_summary(history)))
        runs.append(folder)
    out = tmp_path / "tables"
    label_curves.main(Namespace(runs=runs, output_csv=out / "q.csv", output_png=out / "q.png"))
    table = pd.read_csv(out / "q.csv").set_index(["variant", "seed"])
    assert sorted(table.index) == [
        ("M-CNN", 0), ("M-CNN*", 0), ("M-CNN*", 1), ("M-CNN* hard", 0)
    ]  # fmt: skip
    last = table["gain_last_tenth"]
    assert last[("M-CNN*", 1)] == pytest.approx(0.3 * (18.5 / 19))  # the mean of the last 2
    assert last[("M-CNN* hard", 0)] == 0 and last[("M-CNN", 0)] < 0
    assert table["gain_first_tenth"].abs().max() < 0.02
    assert (out / "q.png").stat().st_size > 0
    (runs[0] / "train.json").unlink()
    with pytest.raises(DataError, match="not a finished training folder"):
        label_curves.main(Namespace(runs=runs, output_csv=out / "r.csv", output_png=out / "r.png"))
