"""Bad input and interrupted or concurrent work: a clear error naming the file, key or shot, or a
recorded skip; never a silent wrong result and never a lost completed output.

One test per row of the README's robustness table. The rows that need the workflow itself
(Snakemake's config check, an interrupted run, "Nothing to be done") are in test_workflow.py;
two rows are covered by tests/test_training.py (see the end of this file).
"""

from __future__ import annotations

import multiprocessing as mp
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import write_tiny_davis

from mcnn import config as mcnn_config
from mcnn.core.io import DataError, write_csv
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
