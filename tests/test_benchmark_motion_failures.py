"""The failure-mode benchmark's per-stage scores (benchmarks/motion_failures.py)."""

import importlib.util
import os
import sys
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from test_fst import moving_object_clip

from mcnn import config
from mcnn.motion.fst import segment_shot

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "motion_failures.py"
_spec = importlib.util.spec_from_file_location("motion_failures", _PATH)
motion_failures = importlib.util.module_from_spec(_spec)
# The benchmark pins OMP_NUM_THREADS=1 and puts benchmarks/ on sys.path: neither may leak.
with mock.patch.dict(os.environ), mock.patch.object(sys, "path", list(sys.path)):
    _spec.loader.exec_module(motion_failures)
mq = motion_failures.mq


def test_stage_scores_compare_each_stage_with_the_truth():
    frames, truth = moving_object_clip(n_frames=6)
    seq = mq.Sequence("synthetic", "square", frames, dict(enumerate(truth)))
    motion = config.validate({})["motion"]
    seg = segment_shot(frames, motion, 0, keep_stages=True, keep_alternatives=True)
    scores = motion_failures.stage_scores(seq, seg)
    assert scores["J mask"] > 0.7 and scores["inside precision"] > 0.5
    assert 0 <= scores["inside recall"] <= 1 and 0 <= scores["J location>0.5"] <= 1
    assert scores["flow kept"] in "AB" and len(scores["J per flow"].split(" / ")) == 2
    picture = motion_failures.figure(seq, seg, motion)
    assert picture.dtype == np.uint8 and picture.shape[0] < 400  # 3 rows, shrunk


def test_every_case_is_a_sequence_of_the_shared_data():
    if not mq.DATA.is_dir():
        pytest.skip(f"{mq.DATA} is absent (shared real data, not in a user's clone)")
    for _, dataset, name in motion_failures.CASES:
        assert name in {found for found, _ in mq.READERS[dataset](mq.DATA)}
