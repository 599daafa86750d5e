"""M-CNN training (mcnn.train) on tiny synthetic shots (a bright square moving over dark noise)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import shared_dataset

from mcnn import config as mcnn_config
from mcnn import train as tr
from mcnn.core.io import DataError
from mcnn.models import build_model, load_checkpoint, load_model, predict_labels, save_checkpoint
from mcnn.shots.samples import ShotSample, write_samples

CLASSES = ["aeroplane", "car", "cat"]
COLOURS = {"aeroplane": (250, 60, 60), "car": (60, 250, 60), "cat": (60, 60, 250)}


def square_shot(shot_id, video_id, label, rng, size=40, frames=10) -> ShotSample:
    """Frames with a square of the class colour at random places; the motion mask is the square."""
    images = rng.integers(0, 50, (frames, size, size, 3)).astype(np.uint8)
    masks = np.zeros((frames, size, size), np.uint8)
    side = size // 2
    for t in range(frames):
        y, x = rng.integers(0, size - side, 2)
        images[t, y : y + side, x : x + side] = COLOURS[label]
        masks[t, y : y + side, x : x + side] = 1
    return ShotSample(
        images, masks, masks * 255, np.arange(frames), "toy", video_id, [label], shot_id
    )


def write_toy_samples(path, shots: dict[str, tuple[str, str]], seed=0, size=40):
    """shots: shot_id -> (video_id, class); returns the path."""
    rng = np.random.default_rng(seed)
    samples = [square_shot(s, v, c, rng, size) for s, (v, c) in shots.items()]
    write_samples(path, samples, {})
    return path


def tiny_params(**train) -> tuple[dict, dict]:
    """(train section, labels section) for a ~10k-parameter compact network on 32 px crops."""
    cfg = mcnn_config.validate({"classes": CLASSES})
    params = cfg["train"]
    params["model"].update(
        backbone="compact", compact_widths=[8, 8, 16, 16, 16], compact_fc_channels=16
    )
    params["train"].update(
        crop=32, label_stride=4, checkpoint_every=2, label_workers=0, label_prefetch=1, iterations=6
    )
    params["train"].update(train)
    return params, cfg["labels"]


@pytest.fixture
def toy_samples(tmp_path):
    shots = {
        "a1_s000": ("a1", "aeroplane"),
        "a1_s001": ("a1", "aeroplane"),
        "a2_s000": ("a2", "aeroplane"),
        "c1_s000": ("c1", "car"),
    }
    return write_toy_samples(tmp_path / "toy.h5", shots)


def test_class_weights_are_min_count_over_count(toy_samples):
    params, _ = tiny_params()
    data = tr.TrainingData([toy_samples], CLASSES, params["train"], "hard")
    # 3 aeroplane shots, 1 car shot, no cat: weights min/num = 1/3 and 1; background and the
    # absent class keep 1.
    np.testing.assert_allclose(data.class_weights(), [1.0, 1 / 3, 1.0, 1.0])
    params, _ = tiny_params(background_weight=0.4)
    data = tr.TrainingData([toy_samples], CLASSES, params["train"], "hard")
    np.testing.assert_allclose(data.class_weights(), [0.4, 1 / 3, 1.0, 1.0])


def test_crop_mirror_and_label_size(toy_samples):
    params, _ = tiny_params(crop=48, label_stride=8)
    data = tr.TrainingData([toy_samples], CLASSES, params["train"], "mcnn")
    batch = data.batch(5, seed=3, video_strategy="mcnn")
    # 40 px frames are upscaled to fit the 48 px crop; labels live at ceil(48 / 8) = 6 px.
    assert batch.frames.shape == (10, 48, 48, 3) and batch.small_masks.shape == (10, 6, 6)
    expected_tags = (1,) if batch.key.startswith("toy/a") else (2,)
    assert batch.groups == [(0, 10, expected_tags, "mcnn")]
    again = data.batch(5, seed=3, video_strategy="mcnn")
    np.testing.assert_array_equal(batch.frames, again.frames)  # a batch is a function of (seed, g)
    # Every epoch visits each item once.
    epoch = {data.item_at(g, seed=3).key for g in range(4, 8)}
    assert len(epoch) == 4


def test_scale_augmentation_resizes_before_the_crop(toy_samples):
    import cv2

    frames = np.random.default_rng(0).integers(0, 255, (2, 40, 40, 3)).astype(np.uint8)
    masks = np.zeros((2, 40, 40), np.uint8)
    masks[:, 10:30, 10:30] = 1
    params, _ = tiny_params(crop=80, mirror=False, scales=[2.0])
    data = tr.TrainingData([toy_samples], CLASSES, params["train"], "hard")
    scaled, scaled_masks = data._crop(frames, masks, np.random.default_rng(0))
    np.testing.assert_array_equal(scaled[0], cv2.resize(frames[0], (80, 80)))
    assert scaled_masks[0, 20:60, 20:60].all() and scaled_masks.sum() == 2 * 40 * 40
    # Several scales: one is drawn per batch, and scale 1 with a full-frame crop is the frame.
    params, _ = tiny_params(crop=40, mirror=False, scales=[1.0, 2.0])
    data = tr.TrainingData([toy_samples], CLASSES, params["train"], "hard")
    unscaled = [
        np.array_equal(data._crop(frames, masks, np.random.default_rng(seed))[0], frames)
        for seed in range(20)
    ]
    assert 0 < sum(unscaled) < 20


def test_loss_weights_classes_and_ignores_void():
    logits = torch.zeros(1, 3, 2, 2)  # uniform: every pixel costs log 3
    labels = torch.tensor([[[0, 1], [2, 255]]])
    weights = torch.tensor([1.0, 0.5, 2.0])
    loss = tr.training_loss(logits, labels, weights, side=2)
    assert loss.item() == pytest.approx((1 + 0.5 + 2) * np.log(3) / 3)


def test_training_learns_the_moving_squares(tmp_path):
    # Two shots per class. No batch norm: a batch is one shot, so all its squares have one
    # colour, and normalising each channel over such a batch makes a red and a green square
    # look alike (both stand out from the dark background in every channel); with it, whether
    # the net tells them apart came down to the seed and the thread count.
    shots = {"a1_s000": ("a1", "aeroplane"), "a2_s000": ("a2", "aeroplane")}
    shots |= {"c1_s000": ("c1", "car"), "c2_s000": ("c2", "car")}
    samples = write_toy_samples(tmp_path / "toy.h5", shots)
    params, labels_cfg = tiny_params(iterations=600, checkpoint_every=600, label_prefetch=0)
    params["sgd"]["lr"] = 0.01
    params["model"].update(dropout=0.0, compact_batch_norm=False)
    summary = tr.train([samples], params, labels_cfg, CLASSES, "hard", 0, tmp_path / "out")
    loss = pd.read_csv(tmp_path / "out" / "loss.csv")
    assert loss["iteration"].tolist() == list(range(1, 601))
    assert loss["loss"].tail(50).mean() < 0.5 * loss["loss"].head(50).mean()
    assert (tmp_path / "out" / "loss.png").stat().st_size > 0
    assert json.loads((tmp_path / "out" / "train.json").read_text())["iterations"] == 600
    assert summary["frames_per_s"] > 0 and 0 <= summary["label_wait_share"] <= 1
    # The model now segments unseen squares and tells the two classes apart by colour.
    model, checkpoint = load_model(tmp_path / "out" / "model.pt")
    assert checkpoint["classes"] == CLASSES
    for label, name in enumerate(["aeroplane", "car"], start=1):
        test = square_shot("t", "t", name, np.random.default_rng(99))
        predicted = predict_labels(model, test.frames)
        inside = predicted[test.masks == 1]
        iou = ((predicted == label) & (test.masks == 1)).sum() / (
            (predicted == label) | (test.masks == 1)
        ).sum()
        assert iou > 0.45, name
        assert (inside == label).sum() > 5 * (inside == 3 - label).sum(), name


@pytest.mark.parametrize("workers, prefetch", [(0, 0), (2, 2)])
def test_killed_run_resumes_to_identical_weights(
    tmp_path, toy_samples, monkeypatch, workers, prefetch
):
    params, labels_cfg = tiny_params(
        iterations=6, checkpoint_every=2, label_workers=workers, label_prefetch=prefetch
    )
    run = dict(
        sample_paths=[toy_samples],
        params=params,
        labels_cfg=labels_cfg,
        classes=CLASSES,
        strategy="mcnn",
        seed=7,
    )
    tr.train(**run, output_dir=tmp_path / "whole")

    real_step, calls = tr.Trainer.step, []

    def dying_step(self, pending):
        calls.append(self.iteration)
        if len(calls) == 4:  # killed during iteration 4, after the checkpoint at 2 was written
            raise KeyboardInterrupt
        return real_step(self, pending)

    monkeypatch.setattr(tr.Trainer, "step", dying_step)
    with pytest.raises(KeyboardInterrupt):
        tr.train(**run, output_dir=tmp_path / "killed")
    assert load_checkpoint(tmp_path / "killed" / "checkpoint.pt")["iteration"] == 2
    monkeypatch.setattr(tr.Trainer, "step", real_step)
    summary = tr.train(**run, output_dir=tmp_path / "killed")
    assert summary["resumed_from"] == 2

    whole = load_checkpoint(tmp_path / "whole" / "model.pt")["model"]
    resumed = load_checkpoint(tmp_path / "killed" / "model.pt")["model"]
    for name, tensor in whole.items():
        assert torch.equal(tensor, resumed[name]), name
    columns = ["iteration", "loss", "batch"]
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "whole" / "loss.csv")[columns],
        pd.read_csv(tmp_path / "killed" / "loss.csv")[columns],
    )


def test_changed_settings_do_not_resume(tmp_path, toy_samples):
    params, labels_cfg = tiny_params(iterations=2)
    tr.train([toy_samples], params, labels_cfg, CLASSES, "hard", 0, tmp_path)
    params["sgd"]["lr"] = 0.002
    summary = tr.train([toy_samples], params, labels_cfg, CLASSES, "hard", 0, tmp_path)
    assert summary["resumed_from"] is None and summary["iterations_this_run"] == 2


def test_nan_loss_stops_naming_iteration_and_shot(tmp_path, toy_samples):
    params, labels_cfg = tiny_params(iterations=3)
    model = build_model(params["model"], 1 + len(CLASSES))
    with torch.no_grad():
        model.fc8.bias.fill_(float("nan"))
    save_checkpoint(tmp_path / "nan.pt", model, params["model"], CLASSES)
    first = tr.TrainingData([toy_samples], CLASSES, params["train"], "hard").item_at(0, seed=0)
    with pytest.raises(tr.TrainingError, match=f"iteration 1 on batch {first.key}"):
        tr.train(
            [toy_samples],
            params,
            labels_cfg,
            CLASSES,
            "hard",
            0,
            tmp_path / "out",
            init=tmp_path / "nan.pt",
        )


def test_finetune_trains_on_selected_shots_only(tmp_path, toy_samples):
    params, labels_cfg = tiny_params()
    params["finetune"].update(iterations=3, lr_step=2)
    tr.train([toy_samples], params, labels_cfg, CLASSES, "hard", 0, tmp_path / "first")
    table = pd.DataFrame(
        {"dataset": ["toy", "toy"], "shot_id": ["a1_s001", "c1_s000"], "selected": [True, False]}
    )
    table.to_csv(tmp_path / "selection.csv", index=False)
    summary = tr.train(
        [toy_samples],
        params,
        labels_cfg,
        CLASSES,
        "hard",
        0,
        tmp_path / "tuned",
        init=tmp_path / "first" / "model.pt",
        shots_table=tmp_path / "selection.csv",
    )
    assert summary["stage"] == "finetune" and summary["iterations"] == 3
    loss = pd.read_csv(tmp_path / "tuned" / "loss.csv")
    assert set(loss["batch"]) == {"toy/a1_s001"}
    # The step after iteration lr_step = 2 runs at lr * gamma.
    np.testing.assert_allclose(loss["lr"], [0.001, 0.001, 0.0001])
    assert tr.stage_schedule(params, labels_cfg, "finetune").alpha == labels_cfg["alpha_finetune"]


def test_unknown_tag_is_a_data_error(tmp_path):
    path = write_toy_samples(tmp_path / "dog.h5", {"d_s000": ("d", "aeroplane")})
    params, _ = tiny_params()
    with pytest.raises(DataError, match="d_s000.*not in the configured classes"):
        tr.TrainingData([path], ["car"], params["train"], "hard")


def test_mixed_training_on_real_voc_images(tmp_path, toy_samples):
    from mcnn.datasets import build_index

    root = shared_dataset("voc2012")
    voc_root = next(p.parent for p in root.rglob("JPEGImages"))
    voc_cfg = {"kind": "voc2012", "root": str(voc_root), "splits": ["train"]}
    voc_cfg = mcnn_config.validate({"classes": CLASSES, "datasets": {"voc": voc_cfg}})["datasets"]
    index = build_index("voc", voc_cfg["voc"], CLASSES).shots
    index.to_csv(tmp_path / "voc.shots.csv", index=False)
    params, labels_cfg = tiny_params(label_workers=1)
    params["mixed"].update(iterations=4, images_per_batch=3)
    data = tr.TrainingData(
        [toy_samples],
        CLASSES,
        params["train"],
        "mcnn",
        image_index=tr.read_image_index(tmp_path / "voc.shots.csv", "train"),
        images_per_batch=3,
    )
    image_items = [item for item in data.items if item.image_rows]
    assert image_items and all(len(item.tags) <= 3 for item in image_items)
    batch = data.batch(data.items.index(image_items[0]), seed=0, video_strategy="mcnn")
    assert batch.frames.shape == (len(image_items[0].tags), 32, 32, 3)
    assert {group[3] for group in batch.groups} == {"em_adapt"}
    summary = tr.train(
        [toy_samples],
        params,
        labels_cfg,
        CLASSES,
        "mcnn",
        0,
        tmp_path / "mix",
        image_index=tmp_path / "voc.shots.csv",
    )
    assert summary["stage"] == "mixed" and summary["items"] == len(data.items)
    assert np.isfinite(pd.read_csv(tmp_path / "mix" / "loss.csv")["loss"]).all()


def test_snapshots_keep_the_model_part_way_through(tmp_path, toy_samples):
    params, labels_cfg = tiny_params(iterations=3, snapshots=[1, 3, 9])
    tr.train([toy_samples], params, labels_cfg, CLASSES, "hard", 0, tmp_path)
    kept = sorted(path.name for path in (tmp_path / "snapshots").iterdir())
    assert kept == ["model-000001.pt", "model-000003.pt"]  # 9 is past the end
    first = load_checkpoint(tmp_path / "snapshots" / "model-000001.pt")
    last = load_checkpoint(tmp_path / "snapshots" / "model-000003.pt")
    final = load_checkpoint(tmp_path / "model.pt")
    assert first["iteration"] == 1 and last["iteration"] == 3
    assert all(torch.equal(last["model"][k], v) for k, v in final["model"].items())
    assert not all(torch.equal(first["model"][k], v) for k, v in final["model"].items())


def test_sigterm_checkpoints_between_steps_and_the_run_resumes(tmp_path, toy_samples, monkeypatch):
    """SIGTERM (a Slurm time limit) arriving inside a checkpoint's write: the write completes,
    the next step ends with a checkpoint and TrainingStopped; no temporary file is left and the
    resumed run ends with the weights of an uninterrupted one."""
    import os
    import signal

    from mcnn.train.run import TrainingStopped

    params, labels_cfg = tiny_params(iterations=6, checkpoint_every=4, label_prefetch=0)
    run = dict(sample_paths=[toy_samples], params=params, labels_cfg=labels_cfg,
               classes=CLASSES, strategy="mcnn", seed=7)  # fmt: skip
    tr.train(**run, output_dir=tmp_path / "whole")
    real_save = torch.save

    def save_then_signalled(obj, path, *args, **kwargs):
        if obj.get("iteration") == 4:
            os.kill(os.getpid(), signal.SIGTERM)
        return real_save(obj, path, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save_then_signalled)
    out = tmp_path / "stopped"
    with pytest.raises(TrainingStopped, match="SIGTERM at iteration 5 of 6"):
        tr.train(**run, output_dir=out)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is undone
    assert load_checkpoint(out / "checkpoint.pt")["iteration"] == 5
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.pt"]  # no .checkpoint.pt.*
    monkeypatch.setattr(torch, "save", real_save)
    (out / ".checkpoint.pt.abc123.pt").write_bytes(b"torn")  # as a SIGKILL mid-save leaves
    summary = tr.train(**run, output_dir=out)
    assert summary["resumed_from"] == 5 and summary["iterations_this_run"] == 1
    assert not list(out.glob(".checkpoint.pt.*"))
    whole = load_checkpoint(tmp_path / "whole" / "model.pt")["model"]
    for name, tensor in load_checkpoint(out / "model.pt")["model"].items():
        assert torch.equal(tensor, whole[name]), name


def test_the_train_step_exits_143_on_sigterm_after_a_checkpoint(tmp_path, toy_samples):
    import json
    import signal
    import subprocess
    import sys
    import time

    params, labels_cfg = tiny_params(iterations=5000, checkpoint_every=1000, label_prefetch=0)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "mcnn", "train", "--samples", str(toy_samples),
         "--params", json.dumps(params), "--label-params", json.dumps(labels_cfg),
         "--classes", json.dumps(CLASSES), "--strategy", "hard", "--seed", "0",
         "--checkpoint-every", "1", "--output-dir", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not (out / "checkpoint.pt").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 143, stderr[-2000:]
    assert "SIGTERM at iteration" in stderr and "resumes from it" in stderr
    assert 1 <= load_checkpoint(out / "checkpoint.pt")["iteration"] < 5000
    assert not list(out.glob(".checkpoint.pt.*"))
