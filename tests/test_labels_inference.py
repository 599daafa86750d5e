"""M-CNN soft label inference and hard labels on synthetic batches with known answers."""

import numpy as np
import pytest

from mcnn.labels import infer_labels, infer_mcnn, mcnn_soft
from mcnn.labels.energy import label_edges

K = 11  # background + 10 classes
TAG = 3


def _iou(a, b):
    return (a & b).sum() / (a | b).sum()


def _scene(rng, size=40, batch=3, object_colour=(200, 60, 40), background=(40, 90, 170)):
    """Noisy frames with a square object moving right by 2 pixels per frame."""
    frames = np.empty((batch, size, size, 3))
    truth = np.zeros((batch, size, size), bool)
    frames[:] = background
    for b in range(batch):
        truth[b, 10:30, 8 + 2 * b : 24 + 2 * b] = True
        frames[b][truth[b]] = object_colour
    frames += rng.normal(0, 8, frames.shape)
    return np.clip(frames, 0, 255).astype(np.uint8), truth


def _uniform(batch, size=40):
    return np.full((batch, K, size, size), 1.0 / K, np.float32)


def _cfg(default_config, **overrides):
    """The label settings with the paper's energy (no mask prior) unless overridden: these tests
    check eq. (2) itself; the default mask prior is tested on its own below."""
    return {**default_config["labels"], "mask_prior": 0.0, **overrides}


def test_shifted_noisy_motion_mask_is_pulled_onto_the_object(default_config):
    rng = np.random.default_rng(0)
    frames, truth = _scene(rng)
    motion = np.roll(truth, 5, axis=2) ^ (rng.random(truth.shape) < 0.05)
    labels = infer_labels(frames, motion, _uniform(3), [TAG], _cfg(default_config), "mcnn")
    assert set(np.unique(labels)) == {0, TAG}
    before, after = _iou(motion, truth), _iou(labels == TAG, truth)
    assert before < 0.7 and after > 0.95


def test_confident_network_overrules_a_wrong_motion_mask(default_config):
    rng = np.random.default_rng(1)
    frames, truth = _scene(rng)
    wrong = np.zeros_like(truth)
    wrong[:, 2:12, 28:38] = True  # a patch of background
    probs = np.full((3, K, 40, 40), 1e-3, np.float32)
    probs[:, 0] = np.where(truth, 0.01, 0.99)
    probs[:, TAG] = np.where(truth, 0.99, 0.01)
    probs /= probs.sum(1, keepdims=True)
    cfg = _cfg(default_config)
    trusting = infer_labels(frames, wrong, probs, [TAG], cfg, "mcnn", alpha=10)
    assert _iou(trusting == TAG, truth) > 0.95
    # Without the network term the colour models learnt from the wrong mask lead astray.
    colour_only = infer_labels(frames, wrong, probs, [TAG], cfg, "mcnn", alpha=0)
    assert _iou(colour_only == TAG, truth) < 0.5


def test_pairwise_term_removes_speckles(default_config):
    rng = np.random.default_rng(2)
    frames = np.full((1, 40, 40, 3), 128, np.uint8)  # one colour: the colour term is neutral
    square = np.zeros((1, 40, 40), bool)
    square[0, 10:30, 10:30] = True
    speckles = rng.random(square.shape) < 0.03
    preferred = square ^ speckles
    probs = np.full((1, K, 40, 40), 0.0, np.float32)
    probs[:, TAG] = np.where(preferred, 0.7, 0.3)
    probs[:, 0] = 1 - probs[:, TAG]
    cfg = _cfg(default_config, pairwise_weight=0.5, pairwise_reference_side=40)
    smooth = infer_labels(frames, square, probs, [TAG], cfg, "mcnn") == TAG
    np.testing.assert_array_equal(smooth, square)
    unsmoothed = _cfg(default_config, pairwise_weight=0.0)
    raw = infer_labels(frames, square, probs, [TAG], unsmoothed, "mcnn") == TAG
    np.testing.assert_array_equal(raw, preferred)


def test_delta_band_frees_a_motion_edge_without_colour_edge(default_config):
    frames = np.full((1, 40, 40, 3), 90, np.uint8)
    left = np.zeros((1, 40, 40), bool)
    left[0, :, :20] = True
    probs = np.zeros((1, K, 40, 40), np.float32)
    probs[:, TAG] = np.where(left, 0.6, 0.4)
    probs[:, 0] = 1 - probs[:, TAG]
    with_band = infer_labels(frames, left, probs, [TAG], _cfg(default_config), "mcnn")
    np.testing.assert_array_equal(with_band == TAG, left)
    # Without Delta the uniform colour makes any boundary too expensive.
    without = infer_labels(frames, left, probs, [TAG], _cfg(default_config, band_width=0), "mcnn")
    assert len(np.unique(without)) == 1


def test_alpha_expansion_gives_each_tag_its_object(default_config):
    rng = np.random.default_rng(3)
    frames = np.empty((2, 40, 40, 3))
    frames[:] = (40, 90, 170)
    first = np.zeros((2, 40, 40), bool)
    second = np.zeros((2, 40, 40), bool)
    first[:, 10:30, 4:16] = True
    second[:, 10:30, 24:36] = True
    frames[first] = (200, 60, 40)
    frames[second] = (60, 200, 60)
    frames = np.clip(frames + rng.normal(0, 8, frames.shape), 0, 255).astype(np.uint8)
    probs = np.full((2, K, 40, 40), 0.02, np.float32)
    probs[:, 0] = 0.5
    probs[:, 2] = np.where(first, 0.45, 0.2)
    probs[:, 5] = np.where(second, 0.45, 0.2)
    probs /= probs.sum(1, keepdims=True)
    labels = infer_labels(frames, first | second, probs, [5, 2], _cfg(default_config), "mcnn")
    assert (labels[first] == 2).mean() > 0.95
    assert (labels[second] == 5).mean() > 0.95
    assert (labels[~(first | second)] == 0).mean() > 0.95


def test_tags_with_equal_scores_are_one_label_found_by_one_exact_cut(default_config):
    """Uniform scores (or alpha 0) make two tags' unaries equal: the lower tag takes every
    object pixel, by the one-tag graph cut, at an energy no higher than alpha-expansion's."""
    rng = np.random.default_rng(6)
    frames, truth = _scene(rng, batch=3)
    motion = np.roll(truth, 4, axis=2)
    cfg = _cfg(default_config)
    two = infer_mcnn(frames, motion, _uniform(3), [7, TAG], cfg, 1.0, np.random.default_rng(1))
    one = infer_mcnn(frames, motion, _uniform(3), [TAG], cfg, 1.0, np.random.default_rng(1))
    np.testing.assert_array_equal(two.labels, one.labels)
    assert set(np.unique(two.labels)) == {0, TAG}
    label_set = np.array([0, TAG, 7])
    start = np.searchsorted(label_set, motion * TAG).astype(np.intp)
    expansion = mcnn_soft.search(
        frames, motion, _uniform(3), label_set, start, None, cfg, 1.0,
        np.random.default_rng(1), cfg["iterations"],
    )  # fmt: skip
    assert two.energies[-1].sum() <= expansion.energies[-1].sum() + 1e-6
    # alpha 0: the network term vanishes whatever the scores; distinct scores keep both tags.
    probs = _uniform(3)
    probs[:, 7] += 0.01
    assert mcnn_soft.distinct_tags(probs, [7, TAG], 0.0, 1e-6) == [TAG]
    assert mcnn_soft.distinct_tags(probs, [7, TAG], 1.0, 1e-6) == [TAG, 7]
    assert mcnn_soft.distinct_tags(_uniform(3), [7, TAG, 1], 1.0, 1e-6) == [1]


def test_later_expansion_iterations_move_only_near_the_label_changes(default_config):
    """With several tags, iterations after the first change pixels only within expansion_band
    of the labelling they start from; a band as wide as the frame is the whole-frame search."""
    rng = np.random.default_rng(7)
    frames, truth = _scene(rng, batch=3)
    motion = np.roll(truth, 6, axis=2) ^ (rng.random(truth.shape) < 0.05)
    probs = _uniform(3)
    probs[:, 7] = np.where(truth, 0.2, 0.05)
    probs /= probs.sum(1, keepdims=True)
    tags = [TAG, 7]

    def infer(**overrides):
        cfg = _cfg(default_config, **overrides)
        return infer_mcnn(frames, motion, probs, tags, cfg, 1.0, np.random.default_rng(2))

    first = infer(iterations=1).labels
    later = infer(iterations=2, expansion_band=1).labels
    near = np.stack([label_edges(f, 1) for f in first])
    assert (later != first).any() and not ((later != first) & ~near).any()
    np.testing.assert_array_equal(
        infer(iterations=4, expansion_band=40).labels, infer(iterations=4, expansion_band=0).labels
    )


def test_search_record_and_labels_are_reproducible(default_config):
    rng = np.random.default_rng(4)
    frames, truth = _scene(rng, batch=4)
    motion = np.roll(truth, 6, axis=1) ^ (rng.random(truth.shape) < 0.1)
    cfg = _cfg(default_config, iterations=6)
    result = infer_mcnn(frames, motion, _uniform(4), [TAG], cfg, 1.0, np.random.default_rng(5))
    n_run = len(result.energies) - 1
    assert result.energies.shape == (n_run + 1, 4) and n_run >= 2
    assert np.all((result.accepted >= 1) & (result.accepted <= n_run))
    assert not result.fell_back.any()
    assert _iou(result.labels == TAG, truth) > _iou(motion, truth)
    again = infer_mcnn(frames, motion, _uniform(4), [TAG], cfg, 1.0, np.random.default_rng(5))
    np.testing.assert_array_equal(result.labels, again.labels)
    np.testing.assert_array_equal(result.energies, again.energies)


def test_a_frame_whose_cuts_raise_its_energy_alone_falls_back(default_config, monkeypatch):
    """Acceptance is per frame: the other frames keep their cuts, and the fallback is counted."""
    rng = np.random.default_rng(4)
    frames, truth = _scene(rng, batch=4)
    motion = np.roll(truth, 6, axis=1) ^ (rng.random(truth.shape) < 0.1)
    cfg = _cfg(default_config, iterations=4)
    frame_energy = mcnn_soft.energy
    calls = []

    def energy(labels, unary, weights):
        # energies are evaluated frame by frame in batch order; frame 1 rises whenever it moves
        frame = len(calls) % 4
        calls.append(frame)
        value = frame_energy(labels, unary, weights)
        moved = frame == 1 and not np.array_equal(labels > 0, motion[1])
        return value + 1e12 if moved else value

    monkeypatch.setattr(mcnn_soft, "energy", energy)
    result = infer_mcnn(frames, motion, _uniform(4), [TAG], cfg, 1.0, np.random.default_rng(5))
    np.testing.assert_array_equal(result.fell_back, [False, True, False, False])
    assert result.accepted[1] == 0 and np.all(result.accepted[[0, 2, 3]] >= 1)
    np.testing.assert_array_equal(result.labels[1] == TAG, motion[1])
    for b in (0, 2, 3):
        assert _iou(result.labels[b] == TAG, truth[b]) > _iou(motion[b], truth[b])


@pytest.mark.parametrize(
    "case", ["empty_mask", "full_mask", "single_pixel_mask", "single_colour", "saturated_probs"]
)
def test_degenerate_batches_give_valid_labels(default_config, case):
    rng = np.random.default_rng(6)
    frames, truth = _scene(rng)
    motion = truth.copy()
    probs = _uniform(3)
    if case == "empty_mask":
        motion[:] = False
    elif case == "full_mask":
        motion[:] = True
    elif case == "single_pixel_mask":
        motion[:] = False
        motion[0, 20, 20] = True
    elif case == "single_colour":
        frames[:] = 77
    else:
        probs = np.zeros_like(probs)
        probs[:, TAG] = truth
        probs[:, 0] = ~truth
    for min_pixels in (1, 50):  # one-pixel GMMs and the uniform fallback
        cfg = _cfg(default_config, gmm_min_pixels=min_pixels)
        result = infer_mcnn(frames, motion, probs, [TAG, 7], cfg, 1.0, np.random.default_rng(0))
        assert np.all(np.isfinite(result.energies))
        assert set(np.unique(result.labels)) <= {0, TAG, 7}
    if case == "saturated_probs":  # a certain network decides everything
        np.testing.assert_array_equal(result.labels == TAG, truth)


def test_hard_labels_follow_the_mask_and_the_best_tag():
    masks = np.zeros((1, 4, 4), np.uint8)
    masks[0, :, :2] = 1
    probs = np.full((1, K, 4, 4), 0.05, np.float32)
    probs[0, 6, :2, :] = 0.5  # tag 6 wins the top rows, tag 2 the bottom rows
    probs[0, 2, 2:, :] = 0.5
    frames = np.zeros((1, 4, 4, 3), np.uint8)
    cfg = {}
    one = infer_labels(frames, masks, probs, [2], cfg, "hard")
    np.testing.assert_array_equal(one, masks * 2)
    two = infer_labels(frames, masks, probs, [2, 6], cfg, "hard")
    np.testing.assert_array_equal(two[0, :2, :2], 6)
    np.testing.assert_array_equal(two[0, 2:, :2], 2)
    assert (two[0, :, 2:] == 0).all()
    assert not infer_labels(frames, masks, probs, [], cfg, "hard").any()


def test_bad_inputs_are_rejected(default_config):
    frames = np.zeros((1, 4, 4, 3), np.uint8)
    masks = np.zeros((1, 4, 4), np.uint8)
    probs = _uniform(1, 4)
    cfg = default_config["labels"]
    with pytest.raises(ValueError, match="strategy"):
        infer_labels(frames, masks, probs, [1], cfg, "magic")
    with pytest.raises(ValueError, match="tags"):
        infer_labels(frames, masks, probs, [K], cfg, "mcnn")
    with pytest.raises(ValueError, match="masks"):
        infer_labels(frames, masks[:, :3], probs, [1], cfg, "mcnn")


def test_mask_prior_costs_grow_with_the_distance_from_the_outline(default_config):
    from mcnn.labels.energy import mask_prior_costs

    mask = np.zeros((1, 40, 40), bool)
    mask[0, 10:30, 10:30] = True
    cfg = _cfg(default_config, mask_prior=2.0, mask_prior_ramp=0.25)  # ramp of 10 pixels
    costs = mask_prior_costs(mask, np.array([0, TAG]), cfg)
    assert costs.shape == (1, 2, 40, 40)
    # Agreeing with the mask is free; disagreeing costs up to the prior, 10 pixels in.
    assert (costs[0, 0][~mask[0]] == 0).all() and (costs[0, 1][mask[0]] == 0).all()
    assert costs[0, 0, 20, 20] == pytest.approx(2.0)  # the centre, 10 px from the outline
    assert costs[0, 1, 0, 0] == pytest.approx(2.0)  # a corner, over 10 px away
    assert 0 < costs[0, 0, 20, 11] < costs[0, 0, 20, 14] < 2.0  # rising inwards
    assert costs.max() == pytest.approx(2.0)
    # 0 = the paper's energy (no term); an empty mask has no outline: the full cost everywhere.
    assert not mask_prior_costs(mask, np.array([0, TAG]), _cfg(default_config)).any()
    empty = mask_prior_costs(np.zeros_like(mask), np.array([0, TAG]), cfg)
    assert (empty[0, 1] == 2.0).all() and not empty[0, 0].any()


def test_mask_prior_holds_the_mask_where_the_colours_would_move_it(default_config):
    rng = np.random.default_rng(1)
    frames, truth = _scene(rng)
    wrong = np.zeros_like(truth)
    wrong[:, 2:12, 28:38] = True  # a patch of background: colour alone leaves it (test above)
    wrong |= truth
    cfg = _cfg(default_config, pairwise_weight=5.0)
    paper = infer_labels(frames, wrong, _uniform(3), [TAG], cfg, "mcnn") == TAG
    held = infer_labels(
        frames,
        wrong,
        _uniform(3),
        [TAG],
        {**cfg, "mask_prior": 50.0, "mask_prior_ramp": 0},
        "mcnn",
    )
    np.testing.assert_array_equal(held == TAG, wrong)
    assert not np.array_equal(paper, wrong)
    # The default settings carry a prior: they keep more of the mask than the paper's energy.
    default = {**default_config["labels"], "pairwise_weight": 5.0}
    assert default["mask_prior"] > 0
    kept = infer_labels(frames, wrong, _uniform(3), [TAG], default, "mcnn") == TAG
    assert _iou(kept, wrong) > _iou(paper, wrong)
