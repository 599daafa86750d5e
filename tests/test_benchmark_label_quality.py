"""The label-quality benchmark's protocol: two folds fixed before any scoring, each reported
with the candidate picked on the other (benchmarks/label_quality.py)."""

import importlib.util
import sys
from pathlib import Path

import pandas as pd
import pytest

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "label_quality.py"
sys.path.insert(0, str(_PATH.parent))  # it imports label_speed from beside it, as when run
_spec = importlib.util.spec_from_file_location("label_quality_benchmark", _PATH)
label_quality = importlib.util.module_from_spec(_spec)
sys.modules["label_quality_benchmark"] = label_quality
_spec.loader.exec_module(label_quality)


def test_folds_alternate_in_sorted_order():
    assert label_quality.folds(["d", "b", "a", "c", "e"]) == {
        "a": "A", "b": "B", "c": "A", "d": "B", "e": "A"
    }  # fmt: skip


def test_each_fold_is_scored_with_the_candidate_picked_on_the_other(monkeypatch):
    good_on_a, good_on_b = "x", "y"
    monkeypatch.setattr(label_quality, "CANDIDATES", {good_on_a: {}, good_on_b: {}})
    fold_of = {"a1": "A", "a2": "A", "b1": "B", "b2": "B"}
    rows = []
    for sequence, fold in fold_of.items():
        rows.append((sequence, "-", "masks", 0.5))
        for source in ("flat", "net"):
            # x gains on fold A's sequences only, y on fold B's only
            rows.append((sequence, source, good_on_a, 0.7 if fold == "A" else 0.4))
            rows.append((sequence, source, good_on_b, 0.6 if fold == "B" else 0.45))
    seq = pd.DataFrame(rows, columns=["sequence", "source", "method", "iou"])
    chosen, picks = label_quality.cross_validate(seq, fold_of)
    # Fold A is reported with what won on B (y) and the other way round: never in-sample.
    assert picks == {"A": good_on_b, "B": good_on_a}
    by_sequence = chosen.groupby("sequence")["iou"].mean()
    assert by_sequence["a1"] == pytest.approx(0.45) and by_sequence["b1"] == pytest.approx(0.4)
    assert set(chosen["method"]) == {"chosen"} and len(chosen) == 8
    summary = label_quality.summary(pd.concat([seq, chosen]), fold_of, ["net"])
    row = summary.set_index("method").loc["chosen"]
    assert row["gain"] == pytest.approx((0.45 + 0.4) / 2 - 0.5)
    assert row["worst_gain"] == pytest.approx(0.4 - 0.5)


def test_training_gains_are_the_last_tenth_per_fold(tmp_path):
    rows = []
    for iteration in range(1, 21):
        for sequence, gain in (("a1_s000", 0.1), ("b1_s000", -0.2), ("b2_s000", 0.0)):
            late = iteration > 18  # the last tenth of 20 iterations
            rows.append((iteration, f"davis/{sequence}", 0.5 + (gain if late else 0.3), 0.5))
        rows.append((iteration, "web/clip_s000", float("nan"), float("nan")))  # no truth
    table = pd.DataFrame(rows, columns=["iteration", "batch", "label_iou", "motion_iou"])
    table.to_csv(tmp_path / "labels_quality.csv", index=False)
    fold_of = {"a1_s000": "A", "b1_s000": "B", "b2_s000": "B"}
    gains = label_quality.training_gains([tmp_path], fold_of).set_index("fold")
    assert gains.loc["A", "gain"] == pytest.approx(0.1)
    assert gains.loc["B", "gain"] == pytest.approx(-0.1) and gains.loc["B", "sequences"] == 2
    assert gains.loc["B", "worst_sequence"] == "b1_s000"
    assert gains.loc["B", "worst_gain"] == pytest.approx(-0.2)


def test_calibrated_scores_let_the_tags_win_on_the_masks_share_of_pixels():
    import numpy as np
    from label_levers import calibrated, to_grid  # benchmarks/, on the path above

    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(4), size=(2, 10, 10)).transpose(0, 3, 1, 2)  # (B, K, H, W)
    masks = np.zeros((2, 10, 10), np.uint8)
    masks[:, :3] = 1  # 30 % of the pixels
    shifted = calibrated(probs, masks, (2,))
    np.testing.assert_allclose(shifted.sum(1), 1, rtol=1e-5)
    assert (shifted[:, 2] > shifted[:, 0]).mean() == pytest.approx(0.3, abs=0.01)
    # the other classes keep their ratios; an empty mask leaves the scores alone
    np.testing.assert_allclose(shifted[:, 1] / shifted[:, 3], probs[:, 1] / probs[:, 3], rtol=1e-4)
    assert calibrated(probs, np.zeros_like(masks), (2,)) is probs
    # the grid keeps an object where it covers at least half of a cell
    labels = np.zeros((1, 4, 4), np.uint8)
    labels[0, :2, :1] = 3  # half of the top-left 2x2 cell
    assert to_grid(labels, 2).tolist() == [[[True, False], [False, False]]]
