"""The demo world: deterministic, readable by the dataset readers, consistent ground truth."""

from __future__ import annotations

import dataclasses
import filecmp
import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from tiny_workflow import RESULTS, new_run_folder, snakemake

from mcnn import cli
from mcnn import config as mcnn_config
from mcnn.classes import VOC_CLASSES, VOID, voc_palette
from mcnn.core.io import DataError
from mcnn.datasets import build_index
from mcnn.datasets.voc import read_voc_mask
from mcnn.demo.marker import MARKER, MARKER_TEXT
from mcnn.demo.plan import plan_world
from mcnn.demo.world import render_shot, video_look
from mcnn.demo.writer import mask_box, run, void_outlines

SMALL = {
    "classes": ["aeroplane", "car", "cat"],
    "videos_per_class": 2,
    "test_videos_per_class": 1,
    "shots_per_video_min": 2,
    "shots_per_video_max": 3,
    "shot_length_min": 8,
    "shot_length_max": 12,
    "box_every": 3,
    "voc_train_images": 5,
    "voc_val_images": 4,
    "voc_second_object_probability": 0.5,
}


def small_params(**overrides) -> dict:
    return mcnn_config.validate({"demo_world": {**SMALL, **overrides}})["demo_world"]


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> tuple[Path, dict, dict]:
    params = small_params()
    root = tmp_path_factory.mktemp("demo") / "world"
    manifest = run(params, root)
    return root, params, manifest


def dataset_cfg(kind: str, root: Path) -> dict:
    cfg = mcnn_config.validate({"datasets": {"d": {"kind": kind, "root": str(root)}}})
    return cfg["datasets"]["d"]


def all_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_same_seed_gives_identical_files_and_another_seed_differs(world, tmp_path):
    root, params, _ = world
    again = tmp_path / "again"
    run(params, again)
    files = all_files(root)
    assert files == all_files(again)
    _, mismatch, errors = filecmp.cmpfiles(root, again, files, shallow=False)
    assert mismatch == [] and errors == []

    other = tmp_path / "other"
    run({**params, "seed": params["seed"] + 1}, other)
    frame = "youtube_objects/car/00000001.jpg"
    assert (root / frame).read_bytes() != (other / frame).read_bytes()


def test_youtube_objects_layout_is_read_by_the_index(world):
    root, params, manifest = world
    index = build_index(
        "demo", dataset_cfg("youtube_objects", root / "youtube_objects"), params["classes"]
    )
    shots = index.shots
    planned = [(v["video_id"], s) for v in manifest["videos"] for s in v["shots"]]
    assert len(shots) == len(planned) == manifest["stats"]["shots"]
    by_id = shots.set_index("shot_id")
    for vid, shot in planned:
        row = by_id.loc[f"{vid}_s{shot['shot']:03d}"]
        assert (row.first_frame, row.last_frame) == (shot["first_frame"], shot["last_frame"])
        assert row.labels == vid.rsplit("_", 1)[0]
        assert (row.width, row.height) == (params["frame_width"], params["frame_height"])
        assert row.mask_path and row.mask_format == "binary"
    # The last video of each class has the test boxes, the others the training boxes.
    splits = shots.drop_duplicates("video_id").set_index("video_id")["split"]
    assert {vid: splits[vid] for vid in splits.index} == {
        v["video_id"]: v["split"] for v in manifest["videos"]
    }
    assert sorted(set(splits)) == ["test", "train"]
    assert len(index.boxes) == manifest["stats"]["boxes"] > 0


def test_boxes_are_the_bounding_boxes_of_the_masks(world):
    root, params, _ = world
    index = build_index(
        "demo", dataset_cfg("youtube_objects", root / "youtube_objects"), params["classes"]
    )
    first = index.shots.set_index("shot_id")["first_frame"]
    for box in index.boxes.itertuples():
        mask = cv2.imread(
            str(root / "youtube_objects" / "Masks" / box.label / f"{box.frame:08d}.png"),
            cv2.IMREAD_UNCHANGED,
        )
        assert set(np.unique(mask)) <= {0, 255}
        assert [box.x0, box.y0, box.x1, box.y1] == mask_box(mask > 0)
        assert (box.frame - first[box.shot_id]) % params["box_every"] == 0


def test_mask_box_known_answer():
    mask = np.zeros((6, 8), bool)
    mask[2:4, 3:7] = True
    assert mask_box(mask) == [3, 2, 6, 3]


def test_every_hard_case_is_present(world):
    root, params, manifest = world
    shots = [s for v in manifest["videos"] for s in v["shots"]]
    assert {s["kind"] for s in shots} == {"moving", "static", "large", "exit"}
    assert any(s["distractor"] for s in shots) and any(s["clutter"] for s in shots)
    for shot in shots:
        if shot["kind"] == "exit":  # present at first, gone by the end
            n = shot["last_frame"] - shot["first_frame"] + 1
            assert 0 < shot["frames_with_object"] < n
    moving = [s["mean_object_area"] for s in shots if s["kind"] == "moving"]
    large = [s["mean_object_area"] for s in shots if s["kind"] == "large"]
    assert all(0.025 < a < 0.5 for a in moving)
    assert min(large) > max(0.4, max(moving))
    for video in manifest["videos"]:
        for shot in video["shots"]:
            if shot["distractor"]:
                assert shot["distractor"] != video["class"]


def test_static_object_does_not_move_but_a_moving_one_does():
    # With a still camera, a static shot's frames show the object exactly in place.
    params = small_params(camera_pan_max=0.0, camera_zoom_max=0.0, noise_sigma=0.0)
    video = plan_world(params)[0]
    look = video_look(params, video)
    base = dataclasses.replace(video.shots[0], distractor=None, clutter=False, num_frames=6)
    static = [
        m for _, m in render_shot(params, video, look, dataclasses.replace(base, kind="static"))
    ]
    moving = [
        m for _, m in render_shot(params, video, look, dataclasses.replace(base, kind="moving"))
    ]
    assert all(np.array_equal(static[0], m) for m in static[1:])
    assert static[0].any()
    assert not all(np.array_equal(moving[0], m) for m in moving[1:])


def test_object_colours_also_occur_in_the_background(world):
    # Colour alone must be ambiguous: most object pixels have a colour the background also has.
    root, params, manifest = world
    folder = root / "youtube_objects"
    for video in manifest["videos"]:
        frames = range(video["shots"][0]["first_frame"], video["shots"][-1]["last_frame"] + 1, 4)
        images = np.stack(
            [cv2.imread(str(folder / video["class"] / f"{f:08d}.jpg")) for f in frames]
        )
        masks = (
            np.stack(
                [
                    cv2.imread(str(folder / "Masks" / video["class"] / f"{f:08d}.png"), 0)
                    for f in frames
                ]
            )
            > 0
        )
        codes = (images // 32).astype(np.int32) @ np.array([64, 8, 1])  # 8 levels per channel
        shared = np.isin(codes[masks], np.unique(codes[~masks]))
        assert shared.mean() > 0.5, video["video_id"]


def test_voc_layout_palette_pngs_with_voc_labels_and_void_outlines(world):
    root, params, manifest = world
    voc = root / "voc2012"
    index = build_index("demo_images", dataset_cfg("voc2012", voc), params["classes"])
    assert len(index.shots) == params["voc_train_images"] + params["voc_val_images"]
    assert (index.shots["split"] == "train").sum() == params["voc_train_images"]
    allowed = {0, VOID} | {VOC_CLASSES.index(name) for name in params["classes"]}
    palette = voc_palette().ravel().tolist()
    two_objects = 0
    for image_id in manifest["voc_images"]["train"] + manifest["voc_images"]["val"]:
        path = voc / "SegmentationClass" / f"{image_id}.png"
        with Image.open(path) as png:
            assert png.mode == "P"
            assert png.getpalette()[: len(palette)] == palette
        labels = read_voc_mask(path)
        values = set(np.unique(labels).tolist())
        assert values <= allowed and VOID in values
        objects = values - {0, VOID}
        two_objects += len(objects) > 1
        assert np.mean(labels == VOID) < 0.25  # a thin band, not whole objects
        tags = set(index.shots.set_index("video_id").loc[image_id, "labels"].split(";"))
        assert tags == {VOC_CLASSES[v] for v in objects}
    assert two_objects > 0


def test_void_outlines_known_answer():
    labels = np.zeros((8, 8), np.uint8)
    labels[2:6, 2:6] = 3
    expected = np.full((8, 8), VOID, np.uint8)
    expected[[0, 7], :] = expected[:, [0, 7]] = 0  # background beyond the band
    expected[3:5, 3:5] = 3  # object interior
    assert np.array_equal(void_outlines(labels, 1), expected)
    assert np.array_equal(void_outlines(labels, 0), labels)


def test_step_writes_atomically_and_replaces_an_old_world(tmp_path):
    params = small_params(
        classes=["horse"],
        videos_per_class=1,
        test_videos_per_class=0,
        voc_train_images=1,
        voc_val_images=1,
    )
    output = tmp_path / "world"
    output.mkdir()
    (output / "stale.txt").write_text("from an older world")
    (output / MARKER).write_text(MARKER_TEXT)
    cli.main(["demo-world", "--params", json.dumps(params), "--output", str(output)])
    assert not (output / "stale.txt").exists()
    assert json.loads((output / "world.json").read_text())["classes"] == ["horse"]
    assert (output / MARKER).is_file()  # the new world may be replaced in turn
    assert sorted(p.name for p in tmp_path.iterdir()) == ["world"]  # no staging folder left


def test_a_folder_that_is_not_a_demo_world_is_never_replaced(tmp_path, monkeypatch):
    monkeypatch.setattr("mcnn.demo.writer.write_world", lambda params, root: {})
    params = small_params()
    output = tmp_path / "data"
    output.mkdir()
    (output / "thesis.tex").write_text("years of work")
    with pytest.raises(DataError) as error:
        cli.main(["demo-world", "--params", json.dumps(params), "--output", str(output)])
    assert str(error.value) == (
        f"{output}: exists and is not a demo world (no {MARKER} file in it): not replacing it; "
        "remove it yourself or set demo_world.root to another folder"
    )
    assert all_files(output) == ["thesis.tex"]
    # Filled while the world was being made: checked again before the swap.
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setattr(
        "mcnn.demo.writer.write_world",
        lambda params, root: (empty / "late.txt").write_text("user file") and {},
    )
    with pytest.raises(DataError, match="is not a demo world"):
        run(params, empty)
    assert all_files(empty) == ["late.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "empty"]


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_the_world_folder_gets_the_mode_mkdir_gives(tmp_path, monkeypatch, umask):
    monkeypatch.setattr("mcnn.demo.writer.write_world", lambda params, root: {})
    old = os.umask(umask)
    try:
        run(small_params(), tmp_path / "world")
        (tmp_path / "plain").mkdir()
    finally:
        os.umask(old)
    expected = (tmp_path / "plain").stat().st_mode & 0o777
    assert expected == 0o777 & ~umask
    assert (tmp_path / "world").stat().st_mode & 0o777 == expected


def test_an_interrupted_run_leaves_the_old_world_untouched(tmp_path, monkeypatch):
    params = small_params(classes=["horse"], videos_per_class=1, test_videos_per_class=0)
    output = tmp_path / "world"
    output.mkdir()
    (output / "world.json").write_text("{}")
    (output / MARKER).write_text(MARKER_TEXT)

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr("mcnn.demo.writer.write_voc", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run(params, output)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["world"]
    assert all_files(output) == [MARKER, "world.json"]


def test_inconsistent_settings_name_the_key(tmp_path):
    with pytest.raises(mcnn_config.ConfigError, match="demo_world.shot_length_min"):
        run(small_params(shot_length_min=50, shot_length_max=40), tmp_path / "w")
    assert not (tmp_path / "w").exists()


def test_the_workflow_refuses_a_demo_root_that_is_not_a_demo_world(tmp_path):
    """Snakemake deletes a directory() output before its job: the check comes before any job."""
    work = new_run_folder(tmp_path, "run")
    root = work / RESULTS / "demo_world"
    root.mkdir(parents=True)
    (root / "thesis.tex").write_text("years of work")
    proc = snakemake(work, "--cores", "1", check=False)
    assert proc.returncode != 0
    assert f"config key 'demo_world.root': {root}: exists and is not a demo world" in proc.stdout
    assert all_files(root) == ["thesis.tex"]
