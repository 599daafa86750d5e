"""Frame sampling into the training-sample HDF5, and the SampleStore reader."""

from __future__ import annotations

import json
import pickle

import cv2
import h5py
import numpy as np
import pandas as pd
import pytest
from conftest import real_davis_shots

from mcnn import cli
from mcnn.config import validate
from mcnn.core.io import DataError, read_rgb
from mcnn.datasets import SHOT_COLUMNS
from mcnn.datasets.frames import read_mask
from mcnn.motion.store import ShotMotion, write_video_motion
from mcnn.shots import prune
from mcnn.shots.sample import sample_positions
from mcnn.shots.samples import SampleStore

FRAME_H, FRAME_W = 16, 24  # original frames; motion masks are at half size


def test_sample_positions_are_evenly_spaced_and_include_both_ends():
    np.testing.assert_array_equal(sample_positions(40, 10), [0, 4, 9, 13, 17, 22, 26, 30, 35, 39])
    np.testing.assert_array_equal(sample_positions(10, 10), np.arange(10))
    np.testing.assert_array_equal(sample_positions(7, 1), [0])
    for length in range(10, 60):
        assert len(np.unique(sample_positions(length, 10))) == 10
    with pytest.raises(ValueError, match="run of 9"):
        sample_positions(9, 10)


def _world(tmp_path, fractions, labels="cat;dog"):
    """A one-video dataset: frames 1..T whose grey value is the frame number, and its motion."""
    num = len(fractions)
    frames_dir = tmp_path / "frames"
    frames_dir.mkdir()
    for n in range(1, num + 1):
        cv2.imwrite(str(frames_dir / f"{n:05d}.png"), np.full((FRAME_H, FRAME_W, 3), n, np.uint8))
    shot = {
        "dataset": "toy", "video_id": "vid", "shot_id": "vid_s000", "labels": labels,
        "split": "train", "source": "frames", "path": str(frames_dir / "{frame:05d}.png"),
        "mask_path": "", "mask_format": "", "first_frame": 1, "last_frame": num,
        "num_frames": num, "width": FRAME_W, "height": FRAME_H,
    }  # fmt: skip
    index = tmp_path / "toy.shots.csv"
    pd.DataFrame([shot], columns=list(SHOT_COLUMNS)).to_csv(index, index=False)

    h, w = FRAME_H // 2, FRAME_W // 2
    counts = np.round(np.asarray(fractions) * h * w).astype(int)
    masks = (np.arange(h * w) < counts[:, None]).astype(np.uint8).reshape(num, h, w)
    boundary = (np.arange(1, num + 1)[:, None, None] * np.ones((1, h, w))).astype(np.uint8)
    motion_dir = tmp_path / "motion" / "toy"
    motion = ShotMotion("vid_s000", "ok", "", np.arange(1, num + 1), masks, boundary, 0.5)
    write_video_motion(motion_dir / "vid.h5", "vid", [motion], {})
    pruned = tmp_path / "toy.pruned.csv"
    prune.run([motion_dir / "vid.h5"], validate({})["shots"]["prune"], pruned)
    return index, pruned, motion_dir


def _sample(tmp_path, index, pruned, motion_dir):
    output = tmp_path / "samples" / "toy.h5"
    cli.main(
        ["sample-frames", "--index", str(index), "--pruned", str(pruned),
         "--motion-dir", str(motion_dir), "--params", json.dumps(validate({})["shots"]["sample"]),
         "--output", str(output)]
    )  # fmt: skip
    return output


def test_samples_come_from_the_kept_run_with_matching_frames(tmp_path):
    # Frames 30..69 form the only valid run (40 frames); the rest is empty or all foreground.
    fractions = [0.0] * 29 + [0.25] * 40 + [1.0] * 11
    output = _sample(tmp_path, *_world(tmp_path, fractions))

    with SampleStore(output) as store:
        assert store.shot_ids == ["vid_s000"] and len(store) == 1
        sample = store.read("vid_s000")
        assert sample.truth is None  # the toy dataset has no ground truth
        expected = 30 + np.array([0, 4, 9, 13, 17, 22, 26, 30, 35, 39])
        np.testing.assert_array_equal(sample.frame_numbers, expected)
        assert sample.frames.shape == (10, FRAME_H // 2, FRAME_W // 2, 3)
        # Each frame's grey value is its frame number: the right frames were read and resized.
        np.testing.assert_array_equal(sample.frames[:, 0, 0, 0], expected)
        np.testing.assert_array_equal(sample.boundary[:, 0, 0], expected)
        assert sample.masks.shape == (10, 8, 12)
        np.testing.assert_allclose(sample.masks.mean(axis=(1, 2)), 0.25)
        assert (sample.dataset, sample.video_id, sample.labels) == ("toy", "vid", ["cat", "dog"])
        assert store.shot_table().to_dict("records") == [
            {"shot_id": "vid_s000", "dataset": "toy", "video_id": "vid", "labels": "cat;dog"}
        ]
        copy = pickle.loads(pickle.dumps(store))  # what a spawned DataLoader worker receives
        np.testing.assert_array_equal(copy.read("vid_s000").frames, sample.frames)
        copy.close()
    with h5py.File(output) as h5:
        for name in ("frames", "masks", "boundary"):
            dataset = h5["shots/vid_s000"][name]
            assert dataset.chunks == dataset.shape  # one contiguous read per shot


def test_every_shot_pruned_fails_naming_the_dataset(tmp_path):
    index, pruned, motion_dir = _world(tmp_path, [0.0] * 30)
    with pytest.raises(DataError, match="every shot of dataset toy was pruned away"):
        _sample(tmp_path, index, pruned, motion_dir)
    assert not (tmp_path / "samples" / "toy.h5").exists()


def test_untagged_shots_are_not_sampled(tmp_path):
    index, pruned, motion_dir = _world(tmp_path, [0.25] * 30, labels="")
    with pytest.raises(DataError, match="no kept shot has a tag"):
        _sample(tmp_path, index, pruned, motion_dir)
    assert not (tmp_path / "samples" / "toy.h5").exists()


def test_stale_pruning_table_is_detected(tmp_path):
    index, pruned, motion_dir = _world(tmp_path, [0.25] * 30)
    table = pd.read_csv(pruned)
    table.loc[0, "run_end"] = 99
    table.to_csv(pruned, index=False)
    with pytest.raises(DataError, match="vid_s000: run 1..99 .* not in the motion file"):
        _sample(tmp_path, index, pruned, motion_dir)


def test_corrupt_sample_file_names_the_file(tmp_path):
    path = tmp_path / "samples.h5"
    path.write_bytes(b"")
    with pytest.raises(DataError, match="samples.h5.*empty or corrupt"):
        SampleStore(path)


def test_real_davis_shot_is_sampled_at_motion_resolution(tmp_path):
    shots, index = real_davis_shots(tmp_path, "dog-agility")
    shot = shots.iloc[0]
    # Ground truth at half size stands in for the motion masks: the dog covers 6-19 %.
    numbers = np.arange(shot["first_frame"], shot["last_frame"] + 1)
    half = (shot["width"] // 2, shot["height"] // 2)
    masks = np.stack(
        [cv2.resize(read_mask(shot, n), half, interpolation=cv2.INTER_NEAREST) for n in numbers]
    )
    motion = ShotMotion(shot["shot_id"], "ok", "", numbers, masks, masks * 255, 0.5)
    motion_dir = tmp_path / "motion" / "davis"
    write_video_motion(motion_dir / "dog-agility.h5", "dog-agility", [motion], {})
    pruned = tmp_path / "davis.pruned.csv"
    table = prune.run([motion_dir / "dog-agility.h5"], validate({})["shots"]["prune"], pruned)
    assert table["status"].tolist() == ["kept"]
    assert table.loc[0, "run_length"] == len(numbers)

    output = _sample(tmp_path, index, pruned, motion_dir)
    sample = SampleStore(output).read(shot["shot_id"])
    expected = numbers[sample_positions(len(numbers), 10)]
    np.testing.assert_array_equal(sample.frame_numbers, expected)
    assert sample.frames.shape == (10, half[1], half[0], 3)
    assert sample.labels == ["dog"]
    np.testing.assert_array_equal(sample.masks, masks[expected - numbers[0]])
    # DAVIS has a mask for every frame: it travels with the sample, on the masks' grid
    np.testing.assert_array_equal(sample.truth, sample.masks)
    first = read_rgb(shot["path"].format(frame=int(expected[0])))
    np.testing.assert_array_equal(
        sample.frames[0], cv2.resize(first, half, interpolation=cv2.INTER_AREA)
    )
