"""Bad input and interrupted or concurrent work: a clear error naming the file, key or shot, or a
recorded skip; never a silent wrong result and never a lost completed output.

One test per row of the robustness table (docs/robustness.md). The rows that need the workflow
itself (Snakemake's config check, an interrupted run, "Nothing to be done") are in test_workflow.py;
two rows are covered by tests/test_training.py (see the end of this file).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import write_tiny_davis

from mcnn import config as mcnn_config
from mcnn.core.io import DataError, write_csv, write_image, write_json
from mcnn.datasets import build_index, read_shots
from mcnn.motion import video as motion_video
from mcnn.motion.store import ShotMotion, read_video_motion, write_video_motion
from mcnn.shots import prune, sample
from mcnn.shots.samples import SampleStore

CLASSES = ["aeroplane", "car", "cat", "horse"]


def write_davis(root: Path, sequences=("seqa", "seqb"), frames: int = 5) -> dict:
    """A tiny DAVIS-layout folder and its validated dataset entry."""
    write_tiny_davis(root, sequences, frames)
    entry = {"kind": "davis2016", "root": str(root), "labels_file": "video_labels.csv"}
    return mcnn_config.validate({"datasets": {"tiny": entry}})["datasets"]["tiny"]


@pytest.fixture
def davis(tmp_path) -> dict:
    return write_davis(tmp_path / "davis")


@pytest.fixture
def settings() -> dict:
    return mcnn_config.validate({})


# -- configuration ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "config, key",
    [
        ({"seed": "zero"}, "seed"),
        ({"motion": {"flow": {"max_side": "big"}}}, "motion.flow.max_side"),
        ({"datasets": {"yto": {"kind": "youtube_objects2", "root": "/d"}}}, "datasets.yto.kind"),
        ({"datasets": {"yto": {"kind": "youtube_objects"}}}, "datasets.yto"),
        ({"experiments": {"variants": ["mcnn", "typo"]}}, "experiments.variants.1"),
    ],
)
def test_malformed_config_names_the_key(tmp_path, config, key):
    with pytest.raises(mcnn_config.ConfigError, match=f"config key '{key}'"):
        mcnn_config.validate(config)
    path = tmp_path / "my.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(mcnn_config.ConfigError, match=f"^{path}: config key '{key}'"):
        mcnn_config.load(path)


# -- dataset reading (ingest) -------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, options",
    [
        ("youtube_objects", {}),
        ("imagenet_vid", {}),
        ("davis2016", {}),
        ("voc2012", {}),
        ("video_files", {"labels_file": "labels.csv"}),
        ("segtrack", {}),
    ],
)
def test_missing_dataset_path_names_it(tmp_path, kind, options):
    root = tmp_path / "not_there"
    entry = mcnn_config.validate({"datasets": {"d": {"kind": kind, "root": str(root), **options}}})
    with pytest.raises(DataError) as error:
        build_index("d", entry["datasets"]["d"], CLASSES)
    assert Path(error.value.path) == root or root in Path(error.value.path).parents
    assert str(root) in str(error.value)


def test_missing_frame_inside_a_shot_names_the_file(davis):
    hole = Path(davis["root"]) / "JPEGImages" / "480p" / "seqb" / "00002.jpg"
    hole.unlink()
    with pytest.raises(DataError, match="sequence seqb: file missing") as error:
        build_index("tiny", davis, CLASSES)
    assert error.value.path == str(hole)


def test_video_tag_not_a_known_class_names_tag_and_file(davis):
    labels = Path(davis["root"]) / "video_labels.csv"
    labels.write_text("sequence,label\nseqa,car\nseqb,zebra\n")
    with pytest.raises(DataError, match="zebra") as error:
        build_index("tiny", davis, CLASSES)
    assert error.value.path == str(labels)


# -- motion, pruning, sampling ------------------------------------------------------------------


def one_video_index(davis: dict, path: Path) -> pd.DataFrame:
    """The tiny dataset's index with both sequences as two shots of one video, `clip`."""
    shots = build_index("tiny", davis, CLASSES).shots
    shots["video_id"] = "clip"
    write_csv(path, shots)
    return shots


def test_corrupt_jpeg_fails_only_its_shot_naming_the_file(tmp_path, davis, settings):
    index = tmp_path / "index.csv"
    one_video_index(davis, index)
    corrupt = Path(davis["root"]) / "JPEGImages" / "480p" / "seqb" / "00003.jpg"
    corrupt.write_bytes(corrupt.read_bytes()[:40])  # truncated after ingest checked the files
    output = tmp_path / "motion" / "tiny" / "clip.h5"
    motion_video.run(index, "clip", settings["motion"], output, seed=0)

    motion = read_video_motion(output)
    ok, failed = motion["seqa_s000"], motion["seqb_s000"]
    assert ok.status == "ok" and ok.num_frames == 5
    assert failed.status == "failed" and str(corrupt) in failed.reason
    assert failed.num_frames == 0
    # The failure is carried into the pruning table, with its reason, as a dropped shot.
    table = prune.run([output], settings["shots"]["prune"], tmp_path / "pruned.csv")
    row = table.set_index("shot_id").loc["seqb_s000"]
    assert row["status"] == "dropped" and row["reason"].startswith("motion_failed: ")
    assert str(corrupt) in row["reason"]


def test_every_shot_pruned_stops_sampling_naming_dataset_and_table(tmp_path, davis, settings):
    index = tmp_path / "results" / "index" / "tiny.shots.csv"
    write_csv(index, build_index("tiny", davis, CLASSES).shots)
    motion_dir = tmp_path / "results" / "motion" / "tiny"
    for video in ("seqa", "seqb"):
        motion_video.run(index, video, settings["motion"], motion_dir / f"{video}.h5", seed=0)
    pruned = tmp_path / "results" / "shots" / "tiny.pruned.csv"
    table = prune.run(sorted(motion_dir.glob("*.h5")), settings["shots"]["prune"], pruned)
    assert set(table["reason"]) == {"too_short"}  # 5-frame shots, min_run_frames = 20
    output = tmp_path / "results" / "samples" / "tiny.h5"
    with pytest.raises(DataError, match="every shot of dataset tiny was pruned away") as error:
        sample.run(index, pruned, motion_dir, settings["shots"]["sample"], output)
    assert error.value.path == str(pruned)
    assert not output.exists()


@pytest.mark.parametrize("content", [b"", b"not an hdf5 file"])
def test_empty_hdf5_is_a_data_error_naming_the_file(tmp_path, settings, content):
    motion = tmp_path / "motion" / "tiny" / "clip.h5"
    motion.parent.mkdir(parents=True)
    motion.write_bytes(content)
    with pytest.raises(DataError, match="cannot be read as HDF5") as error:
        prune.run([motion], settings["shots"]["prune"], tmp_path / "pruned.csv")
    assert error.value.path == str(motion)
    assert not (tmp_path / "pruned.csv").exists()
    samples = tmp_path / "samples.h5"
    samples.write_bytes(content)
    with pytest.raises(DataError) as error:
        SampleStore(samples).shot_ids  # noqa: B018 (the read is the test)
    assert error.value.path == str(samples)


# -- concurrent writers -------------------------------------------------------------------------


def _motion_of(k: int) -> list[ShotMotion]:
    """A self-consistent motion file content that differs per writer `k` (sizes and values)."""
    frames = 3 + k
    masks = np.full((frames, 40, 50), k % 2, np.uint8)
    return [
        ShotMotion(
            shot_id=f"v_s{s:03d}", status="ok", reason="",
            frame_numbers=np.arange(frames, dtype=np.int64), masks=masks,
            boundary=np.full((frames, 40, 50), k, np.uint8), scale=0.5,
        )
        for s in range(3)
    ]  # fmt: skip


def _write_many(kind: str, path: str, k: int, rounds: int, start) -> None:
    start.wait()
    for _ in range(rounds):
        if kind == "motion":
            write_video_motion(path, "v", _motion_of(k), {"writer": k})
        else:
            rows = 2000 + 100 * k
            write_csv(path, pd.DataFrame({"writer": [k] * rows, "row": range(rows)}))


def _check(kind: str, path: Path) -> None:
    """The file holds exactly one writer's whole content."""
    if kind == "motion":
        shots = read_video_motion(path)
        k = int(shots["v_s000"].boundary.flat[0])
        assert sorted(shots) == ["v_s000", "v_s001", "v_s002"]
        for shot in shots.values():
            assert shot.num_frames == 3 + k and (shot.boundary == k).all()
    else:
        table = pd.read_csv(path)
        k = int(table["writer"].iloc[0])
        assert len(table) == 2000 + 100 * k and (table["writer"] == k).all()
        assert table["row"].tolist() == list(range(len(table)))


@pytest.mark.parametrize("kind, name", [("motion", "clip.h5"), ("csv", "pruned.csv")])
def test_concurrent_writers_never_leave_a_torn_file(tmp_path, kind, name):
    path = tmp_path / name
    ctx = mp.get_context("spawn")
    start = ctx.Event()
    writers = [
        ctx.Process(target=_write_many, args=(kind, str(path), k, 15, start)) for k in range(4)
    ]
    for writer in writers:
        writer.start()
    start.set()
    reads = 0
    while any(w.is_alive() for w in writers):
        if path.exists():
            _check(kind, path)  # a reader during the writes sees a whole file, never a torn one
            reads += 1
        time.sleep(0.005)
    for writer in writers:
        writer.join()
        assert writer.exitcode == 0
    _check(kind, path)
    assert reads > 0
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary file left behind


# -- covered elsewhere --------------------------------------------------------------------------
# NaN loss -> TrainingError naming the iteration and the batch's shot:
#     tests/test_training.py::test_nan_loss_stops_naming_iteration_and_shot
# Training job killed mid-way -> resumes from its last checkpoint to identical weights (CPU):
#     tests/test_training.py::test_killed_run_resumes_to_identical_weights


def test_shot_index_round_trip_keeps_empty_tags(tmp_path, davis):
    """A video with no known class keeps its empty tag through the CSV (not NaN, not 'nan')."""
    labels = Path(davis["root"]) / "video_labels.csv"
    labels.write_text("sequence,label\nseqa,car\nseqb,none\n")
    index = tmp_path / "tiny.shots.csv"
    write_csv(index, build_index("tiny", davis, CLASSES).shots)
    shots = read_shots(index).set_index("video_id")
    assert shots.loc["seqb", "labels"] == "" and shots.loc["seqa", "labels"] == "car"


# -- errors for people: `python -m mcnn` ---------------------------------------------------------


def run_mcnn(*args: str, cwd: Path):
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "mcnn", *args], cwd=cwd, capture_output=True, text=True
    )


def test_a_data_error_is_one_line_and_debug_shows_the_traceback(tmp_path):
    args = [
        "ingest", "--name", "tiny", "--params", '{"kind": "davis2016", "root": "no/such/folder"}',
        "--classes", '["car"]', "--shots", "s.csv", "--boxes", "b.csv",
    ]  # fmt: skip
    proc = run_mcnn(*args, cwd=tmp_path)
    lines = [line for line in proc.stderr.splitlines() if " INFO " not in line]
    assert proc.returncode == 1
    assert lines == [lines[0]] and lines[0].startswith("error: ") and "no/such/folder" in lines[0]
    debug = run_mcnn("--debug", *args, cwd=tmp_path)
    assert debug.returncode == 1 and "Traceback" in debug.stderr


def test_a_config_error_names_the_key(tmp_path):
    args = ["ingest", "--name", "tiny", "--params", '{"kind": "davis2016"}', "--classes", "[]"]
    proc = run_mcnn(*args, "--shots", "s.csv", "--boxes", "b.csv", cwd=tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("error: config key 'datasets.tiny'")


def test_predict_keeps_every_prediction_and_lists_the_failures(tmp_path):
    """One unreadable image: the others are written and the step succeeds (Snakemake would
    delete the whole directory() output of a failed job); failed.csv says what was skipped."""
    import cv2
    import torch

    from mcnn.models import build_model, save_checkpoint

    settings = mcnn_config.validate({})["train"]["model"]
    settings.update(backbone="compact", compact_widths=[4, 4, 4, 4, 4], compact_fc_channels=4)
    torch.manual_seed(0)
    model = build_model(settings, 1 + len(CLASSES))
    save_checkpoint(tmp_path / "model.pt", model, settings, CLASSES)
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a", "c"):
        cv2.imwrite(str(images / f"{name}.jpg"), rng.integers(0, 255, (40, 48, 3), np.uint8))
    (images / "b.jpg").write_bytes(b"not a jpeg")
    args = ["predict", "--checkpoint", "model.pt", "--input", "images", "--device", "cpu"]
    proc = run_mcnn(*args, "--output", "out", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert {p.name for p in (tmp_path / "out").glob("*.png")} == {"a.png", "c.png"}
    failed = pd.read_csv(tmp_path / "out" / "failed.csv", keep_default_na=False)
    assert failed.to_dict("records") == [{
        "input": "images/b.jpg", "frame": "",
        "reason": "image file cannot be decoded (corrupt or not an image)",
    }]  # fmt: skip
    summary = json.loads((tmp_path / "out" / "predict.json").read_text())
    assert (summary["predicted"], summary["failed"], summary["device"]) == (2, 1, "cpu")
    # --strict: a failure fails the step, the predictions made are still there.
    strict = run_mcnn(*args, "--output", "strict", "--strict", cwd=tmp_path)
    assert strict.returncode == 1
    assert strict.stderr.strip().splitlines()[-1] == (
        "error: images: 2 images or frames predicted (kept in strict), 1 could not be read "
        "(listed in strict/failed.csv)"
    )
    assert {p.name for p in (tmp_path / "strict").glob("*.png")} == {"a.png", "c.png"}
    # Nothing readable: a failure, with the list.
    (images / "a.jpg").write_bytes(b"")
    (images / "c.jpg").write_bytes(b"")
    none = run_mcnn(*args, "--output", "none", cwd=tmp_path)
    assert none.returncode == 1 and "0 images or frames predicted" in none.stderr
    assert len(pd.read_csv(tmp_path / "none" / "failed.csv")) == 3


def test_a_videos_shots_read_in_order_decode_it_once(tmp_path, monkeypatch):
    """Motion segmentation and sampling read a video shot by shot: the decoder carries on from
    the previous shot instead of decoding again from frame 0, and gives the same frames."""
    import cv2
    from test_datasets_video_files import write_two_shot_video

    from mcnn.datasets import frames as frames_module

    path = tmp_path / "two.avi"
    write_two_shot_video(path, frames_per_shot=20)
    fresh = [
        frames_module.decode_video_frames(path, range(a, b))[1] for a, b in ((0, 20), (20, 40))
    ]
    grabs = []
    real_capture = cv2.VideoCapture

    class CountingCapture:
        def __init__(self, name):
            self.capture = real_capture(name)

        def grab(self):
            grabs.append(1)
            return self.capture.grab()

        def __getattr__(self, name):
            return getattr(self.capture, name)

    monkeypatch.setattr(frames_module.cv2, "VideoCapture", CountingCapture)
    frames_module._open_reader.clear()
    shots = [
        frames_module.decode_video_frames(path, range(a, b))[1] for a, b in ((0, 20), (20, 40))
    ]
    assert len(grabs) == 40
    for fresh_shot, shot in zip(fresh, shots, strict=True):
        assert all(np.array_equal(a, b) for a, b in zip(fresh_shot, shot, strict=True))
    frames_module.decode_video_frames(path, [5])  # an earlier frame: a new decoder from 0
    assert len(grabs) == 46


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_outputs_get_the_mode_open_gives_under_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        write_json(tmp_path / "a.json", {"x": 1})
        write_csv(tmp_path / "b.csv", pd.DataFrame({"x": [1]}))
        write_image(tmp_path / "c.png", np.zeros((4, 4, 3), np.uint8))
        with open(tmp_path / "plain.txt", "w"):
            pass
    finally:
        os.umask(old)
    expected = (tmp_path / "plain.txt").stat().st_mode & 0o777
    assert expected == 0o666 & ~umask
    for name in ("a.json", "b.csv", "c.png"):
        assert (tmp_path / name).stat().st_mode & 0o777 == expected, name
