"""The motion benchmark's protocol: windows as shots, and a leave-one-out that holds out a
sequence together with its windows (benchmarks/motion_quality.py)."""

import importlib.util
import os
import sys
from pathlib import Path
from unittest import mock

import numpy as np

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "motion_quality.py"
_spec = importlib.util.spec_from_file_location("motion_quality", _PATH)
motion_quality = importlib.util.module_from_spec(_spec)
sys.modules["motion_quality"] = motion_quality  # its dataclasses look their module up
# The benchmark pins OMP_NUM_THREADS=1 for itself; that must not leak into the other tests
# (GNU nproc honours it: the Slurm test's cluster would declare one CPU).
with mock.patch.dict(os.environ):
    _spec.loader.exec_module(motion_quality)


def _sequence(name, frames, annotated):
    images = [np.zeros((4, 4, 3), np.uint8)] * frames
    masks = {i: np.zeros((4, 4), bool) for i in annotated}
    return motion_quality.Sequence("fbms", name, images, masks)


def test_windows_are_shots_with_an_evaluated_frame_and_never_the_whole_again():
    # FBMS-like: 100 frames, masks every 20th. Window 80-99 has only its own last frame.
    long = _sequence("bear01", 100, [0, 19, 39, 59, 79, 99])
    shots = list(motion_quality.windows(long, 40))
    assert [s.name for s in shots] == ["bear01", "bear01@0", "bear01@40"]
    assert shots[1].evaluated == [19] and shots[2].evaluated == [19]
    assert [s.name for s in motion_quality.windows(_sequence("girl", 21, range(21)), 40)] == [
        "girl"
    ]
    assert [s.name for s in motion_quality.windows(long, 0)] == ["bear01"]


def test_leave_one_out_holds_out_a_sequence_with_its_windows():
    # c1 wins on a and its window only; held out alone, a's window would vote for c1.
    per_candidate = {
        "c1": {"a": 1.0, "a@0": 1.0, "b": 0.0, "b@0": 0.0, "c": 0.3},
        "c2": {"a": 0.0, "a@0": 0.0, "b": 0.4, "b@0": 0.4, "c": 0.0},
    }
    picks = motion_quality.leave_one_out(per_candidate)
    assert picks["a"] == ("c2", 0.0) and picks["a@0"] == ("c2", 0.0)
    assert picks["b"] == ("c1", 0.0) and picks["c"] == ("c1", 0.3)
