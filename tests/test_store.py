"""Motion HDF5 store: round trips, failed shots, partial reads, bad files."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from mcnn.core.io import DataError
from mcnn.motion.store import (
    ShotMotion,
    read_motion_params,
    read_shot_motion,
    read_video_motion,
    shot_status_table,
    write_video_motion,
)


def _ok_shot(shot_id: str, num_frames: int = 6, first: int = 10, seed: int = 0) -> ShotMotion:
    rng = np.random.default_rng(seed)
    return ShotMotion(
        shot_id=shot_id,
        status="ok",
        reason="",
        frame_numbers=np.arange(first, first + num_frames),
        masks=rng.integers(0, 2, (num_frames, 12, 16), dtype=np.uint8),
        boundary=rng.integers(0, 256, (num_frames, 12, 16), dtype=np.uint8),
        scale=0.5,
    )


def test_round_trip_keeps_arrays_status_and_params(tmp_path):
    path = tmp_path / "motion" / "bear.h5"
    shots = [_ok_shot("bear_s000"), ShotMotion.failed("bear_s001", "flow diverged")]
    params = {"flow": {"method": "farneback"}, "scale": 0.5}
    write_video_motion(path, "bear", shots, params)

    loaded = read_video_motion(path)
    assert list(loaded) == ["bear_s000", "bear_s001"]
    ok = loaded["bear_s000"]
    np.testing.assert_array_equal(ok.masks, shots[0].masks)
    np.testing.assert_array_equal(ok.boundary, shots[0].boundary)
    np.testing.assert_array_equal(ok.frame_numbers, np.arange(10, 16))
    assert (ok.status, ok.reason, ok.scale) == ("ok", "", 0.5)
    failed = loaded["bear_s001"]
    assert (failed.status, failed.reason, failed.num_frames) == ("failed", "flow diverged", 0)
    assert failed.masks.shape == (0, 0, 0)
    assert read_motion_params(path) == ("bear", params)
    assert [p.name for p in path.parent.iterdir()] == ["bear.h5"]  # no temporary left behind


def test_masks_are_compressed_and_chunked_by_frame(tmp_path):
    path = tmp_path / "v.h5"
    write_video_motion(path, "v", [_ok_shot("v_s000")], {})
    with h5py.File(path) as h5:
        masks = h5["shots/v_s000/masks"]
        assert masks.compression == "gzip"
        assert masks.chunks == (1, 12, 16)
        assert h5["shots/v_s000/boundary"].chunks == (1, 12, 16)


def test_partial_read_returns_selected_frames(tmp_path):
    path = tmp_path / "v.h5"
    shot = _ok_shot("v_s000", num_frames=8)
    write_video_motion(path, "v", [shot], {})
    part = read_shot_motion(path, "v_s000", [1, 4, 7])
    np.testing.assert_array_equal(part.frame_numbers, [11, 14, 17])
    np.testing.assert_array_equal(part.masks, shot.masks[[1, 4, 7]])
    with pytest.raises(DataError, match="no shot 'v_s009'"):
        read_shot_motion(path, "v_s009")


def test_status_table_lists_every_shot(tmp_path):
    a, b = tmp_path / "a.h5", tmp_path / "b.h5"
    write_video_motion(a, "a", [_ok_shot("a_s000", 5), ShotMotion.failed("a_s001", "too dark")], {})
    write_video_motion(b, "b", [_ok_shot("b_s000", 7)], {})
    table = shot_status_table([a, b])
    assert table["shot_id"].tolist() == ["a_s000", "a_s001", "b_s000"]
    assert table["status"].tolist() == ["ok", "failed", "ok"]
    assert table["num_frames"].tolist() == [5, 0, 7]
    assert table.loc[1, "reason"] == "too dark"
    assert table.loc[0, ["height", "width"]].tolist() == [12, 16]


@pytest.mark.parametrize("content", [b"", b"not an hdf5 file at all"])
def test_empty_or_corrupt_file_names_the_file(tmp_path, content):
    path = tmp_path / "broken.h5"
    path.write_bytes(content)
    with pytest.raises(DataError, match="broken.h5.*empty or corrupt"):
        read_video_motion(path)
    with pytest.raises(DataError, match="broken.h5"):
        shot_status_table([path])


def test_hdf5_without_motion_layout_is_rejected(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as h5:
        h5["x"] = np.zeros(3)
    with pytest.raises(DataError, match="not a motion file"):
        read_video_motion(path)


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_video_motion(tmp_path / "absent.h5")


def test_invalid_shots_are_refused_before_writing(tmp_path):
    path = tmp_path / "v.h5"
    bad = _ok_shot("v_s000")
    bad_masks = ShotMotion(**{**bad.__dict__, "masks": bad.masks * 255})
    with pytest.raises(DataError, match="shot v_s000: masks must hold 0/1"):
        write_video_motion(path, "v", [bad_masks], {})
    short_numbers = ShotMotion(**{**bad.__dict__, "frame_numbers": np.arange(3)})
    with pytest.raises(DataError, match="3 frame numbers for 6 masks"):
        write_video_motion(path, "v", [short_numbers], {})
    with pytest.raises(DataError, match="duplicate shot ids"):
        write_video_motion(path, "v", [bad, bad], {})
    assert not path.exists()


def test_the_motion_file_records_the_device_raft_ran_on(tmp_path, monkeypatch):
    import torch

    from mcnn import config as mcnn_config
    from mcnn.motion.video import motion_device

    motion = mcnn_config.validate({})["motion"]
    raft = {**motion, "flow": {**motion["flow"], "method": "raft"}}
    alternative = {**motion, "alternative_flows": [{"method": "raft"}]}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert [motion_device(p) for p in (motion, raft, alternative)] == ["cpu", "cuda", "cuda"]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert motion_device(raft) == "cpu"
    write_video_motion(tmp_path / "v.h5", "v", [_ok_shot("v_s000")], raft, motion_device(raft))
    with h5py.File(tmp_path / "v.h5") as h5:
        assert h5.attrs["device"] == "cpu"
