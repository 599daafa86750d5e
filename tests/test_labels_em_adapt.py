"""EM-Adapt E-step: portions, suppressed absent classes, reproducibility."""

import cv2
import numpy as np
import pytest

from mcnn.labels import infer_labels

K = 11


def _smooth_random_probs(rng, batch=4, size=48):
    logits = rng.normal(0, 3, (batch, K, size, size)).astype(np.float32)
    logits = np.stack([[cv2.GaussianBlur(c, (0, 0), 4) for c in image] for image in logits])
    e = np.exp(logits * 4)
    return e / e.sum(1, keepdims=True)


# With one tag the object class comes last and background can only lose pixels it has beyond
# its share, so both shares hold exactly. With several tags a later class can take pixels from
# an earlier one; DeepLab's repeated passes shrink that shortfall.
@pytest.mark.parametrize(("tags", "sweeps", "shortfall"), [([4], 1, 0), ([2, 9], 3, 0.01)])
def test_each_present_class_gets_its_share_and_absent_ones_nothing(
    default_config, tags, sweeps, shortfall
):
    cfg = {**default_config["labels"], "em_adapt_sweeps": sweeps}
    probs = _smooth_random_probs(np.random.default_rng(0))
    labels = infer_labels(None, None, probs, tags, cfg, "em_adapt", rng=np.random.default_rng(1))
    assert set(np.unique(labels)) <= {0, *tags}
    for image in labels:
        assert (image == 0).mean() >= cfg["em_adapt_bg_portion"] - shortfall
        for tag in tags:
            assert (image == tag).mean() >= cfg["em_adapt_fg_portion"] - shortfall


def test_confident_or_uniform_networks_still_meet_the_portions(default_config):
    cfg = default_config["labels"]
    certain = np.zeros((1, K, 30, 30), np.float32)
    certain[:, 4] = 1.0  # probabilities of exactly 0 and 1
    uniform = np.full((1, K, 30, 30), 1 / K, np.float32)
    for probs in (certain, uniform):
        labels = infer_labels(None, None, probs, [4], cfg, "em_adapt")
        assert (labels == 0).mean() >= cfg["em_adapt_bg_portion"]
        assert (labels == 4).mean() >= cfg["em_adapt_fg_portion"]
    # the network's own answer survives when it already meets the portions
    assert (infer_labels(None, None, certain, [4], cfg, "em_adapt") == 4).mean() == pytest.approx(
        1 - cfg["em_adapt_bg_portion"], abs=0.01
    )


def test_same_rng_same_labels_and_no_tags_is_background(default_config):
    cfg = default_config["labels"]
    probs = _smooth_random_probs(np.random.default_rng(2), batch=2)
    a = infer_labels(None, None, probs, [1, 3, 5], cfg, "em_adapt", rng=np.random.default_rng(9))
    b = infer_labels(None, None, probs, [1, 3, 5], cfg, "em_adapt", rng=np.random.default_rng(9))
    np.testing.assert_array_equal(a, b)
    assert not infer_labels(None, None, probs, [], cfg, "em_adapt").any()
