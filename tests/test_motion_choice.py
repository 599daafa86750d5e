"""The label-free choice between FST segmentations made with different flows."""

import cv2
import numpy as np
import pytest
import yaml
from conftest import shared_dataset
from test_fst import moving_object_clip

from mcnn import config
from mcnn.metrics.davis import evaluate_sequence
from mcnn.motion import choice
from mcnn.motion.fst import flow_settings, segment_shot


def square_masks(frames=6, size=40, side=16, jitter=0):
    """A square moving 2 px/frame; `jitter` > 0 also shrinks every other frame's square."""
    masks = np.zeros((frames, size, size), bool)
    for t in range(frames):
        s = side - jitter * (t % 2)
        masks[t, 10 : 10 + s, 5 + 2 * t : 5 + 2 * t + s] = True
    return masks


def test_a_steady_segmentation_on_the_motion_boundaries_beats_a_flickering_fragment():
    steady = square_masks()
    flicker = square_masks(jitter=10)
    outline = np.stack([cv2.dilate(m.astype(np.uint8), np.ones((3, 3))) != cv2.erode(
        m.astype(np.uint8), np.ones((3, 3))) for m in steady]).astype(np.float32)  # fmt: skip
    inside = np.stack([steady, steady])
    boundary = np.stack([outline, outline])
    own = choice.criteria(steady, 0, inside, boundary)
    other = choice.criteria(flicker, 1, inside, boundary)
    assert own["temporal_overlap"] == pytest.approx(14 * 16 / (18 * 16))  # 2-px shift, 16 rows
    assert own["area_steadiness"] == 0 > other["area_steadiness"]
    assert own["inside_own"] == own["inside_any"] == own["moving_recall"] == 1.0
    assert own["outline_boundary_mean"] == 1.0 > other["outline_boundary_mean"]
    index, points, scores = choice.choose([flicker, steady], inside, boundary)
    assert index == 1 and points[1] > points[0] and scores[1]["valid_frames"] == 1.0
    # Equal segmentations tie on every criterion: the first (motion.flow) is kept.
    index, points, _ = choice.choose([steady, steady], inside, boundary)
    assert index == 0 and points[0] == points[1] == len(scores[0])


def test_a_single_criterion_rule_keeps_its_best_and_every_rule_is_a_setting():
    steady, flicker = square_masks(), square_masks(jitter=10)
    inside = np.stack([flicker, flicker])  # the maps agree with the flickering one
    boundary = np.zeros(inside.shape, np.float32)
    index, points, _ = choice.choose([steady, flicker], inside, boundary, "inside_own")
    assert index == 1 and list(points) == [0, 1]
    index, _, _ = choice.choose([steady, flicker], inside, boundary, "temporal_overlap")
    assert index == 0
    names = set(choice.criteria(steady, 0, inside, boundary))
    section = yaml.safe_load((config.SCHEMA_DIR / "motion.schema.yaml").read_text())
    assert set(section["properties"]["choose_by"]["enum"]) == names | {"vote"}


def test_the_valid_frames_guard_leaves_out_a_fragment_unless_no_segmentation_is_valid():
    """A fragment (1 % of the frame, outside the 2.5-50 % pruning bounds in every frame) that the
    motion boundaries outline best wins outline_boundary_own; with motion.choice_min_valid the
    segmentation that training can use is kept (mallard-water, issue #32)."""
    steady = square_masks()  # 16 % of the frame
    fragment = square_masks(side=4)
    outline = np.stack([cv2.dilate(m.astype(np.uint8), np.ones((3, 3))) != cv2.erode(
        m.astype(np.uint8), np.ones((3, 3))) for m in fragment]).astype(np.float32)  # fmt: skip
    inside = np.stack([fragment, fragment])
    boundary = np.stack([outline, outline])
    rule = "outline_boundary_own"
    index, _, scores = choice.choose([steady, fragment], inside, boundary, rule)
    assert index == 1 and scores[0]["valid_frames"] == 1.0 and scores[1]["valid_frames"] == 0.0
    index, points, _ = choice.choose([steady, fragment], inside, boundary, rule, min_valid=0.5)
    assert index == 0 and list(points) == [1, 0]
    index, points, _ = choice.choose([fragment, steady], inside, boundary, "vote", min_valid=0.5)
    assert index == 1 and points[0] == 0 < points[1]
    # None reaches the guard: all stay eligible, the rule decides as without it.
    below = [{**s, "valid_frames": v} for s, v in zip(scores, (0.3, 0.1), strict=True)]
    index, points = choice.pick(below, rule, 0.5)
    assert index == 1 and list(points) == [0, 1]
    assert config.validate({})["motion"]["choice_min_valid"] == 0  # off by default


def test_the_chosen_segmentation_is_fst_on_that_flow_alone():
    frames, _ = moving_object_clip(n_frames=6)
    cfg = config.validate({"motion": {"alternative_flows": [{"dis_preset": "fast"}]}})["motion"]
    seg = segment_shot(frames, cfg, seed=0)
    assert len(seg.points) == 2 and seg.flow == int(np.argmax(seg.points))
    alone = config.validate({"motion": {"alternative_flows": []}})["motion"]
    alone["flow"] = flow_settings(cfg)[seg.flow]
    single = segment_shot(frames, alone, seed=0)
    assert single.points == (0,) and single.flow == 0
    np.testing.assert_array_equal(seg.masks, single.masks)
    np.testing.assert_array_equal(seg.boundary, single.boundary)


def test_alternative_flows_are_overrides_of_flow_checked_against_its_schema():
    cfg = config.validate(
        {"motion": {"flow": {"max_side": 200}, "alternative_flows": [{"dis_finest_scale": 0}]}}
    )["motion"]
    first, second = flow_settings(cfg)
    assert first == cfg["flow"] and second == {**cfg["flow"], "dis_finest_scale": 0}
    cfg["alternative_flows"] = [{"max_side": 300}]
    with pytest.raises(ValueError, match="max_side"):
        flow_settings(cfg)
    cfg["alternative_flows"] = [{"dis_preset": "slowest"}]
    with pytest.raises(Exception, match="slowest"):
        flow_settings(cfg)


def _davis_shot(name):
    root = shared_dataset("davis2016")
    paths = sorted((root / "JPEGImages" / "480p" / name).glob("*.jpg"))
    masks = [root / "Annotations" / "480p" / name / f"{p.stem}.png" for p in paths]
    return paths, masks


def _segtrack_birdfall():
    root = shared_dataset("segtrack_v1")
    numbers = range(1, 31)  # birdfall's frames in the FST release's segmentSegTrack.m
    return [root / f"{n:08d}.jpg" for n in numbers], [
        root / "GroundTruth" / f"{n:08d}.png" for n in numbers
    ]


@pytest.mark.parametrize(
    "shot, kept",
    [(lambda: _davis_shot("surf"), 0), (_segtrack_birdfall, 1)],
    ids=["davis-surf", "segtrack-birdfall"],
)
def test_on_real_frames_the_choice_keeps_the_segmentation_that_found_the_object(shot, kept):
    """With the default settings FST on DIS medium finds the surfer of DAVIS surf (55 frames)
    and DIS at full resolution much less (J 0.89 vs 0.65, CHANGELOG.md); on SegTrack's
    birdfall (30 frames) it is the other way round (0.32 vs 0.64). The default choice must keep
    the better one."""
    frame_paths, mask_paths = shot()
    frames = [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in frame_paths]
    truth = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) >= 128 for p in mask_paths]
    seg = segment_shot(frames, config.validate({})["motion"], seed=0, keep_alternatives=True)
    scores = []
    for masks in seg.alternatives:
        size = truth[0].shape[::-1]
        upscaled = [cv2.resize(m.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
                    for m in masks]  # fmt: skip
        scores.append(evaluate_sequence(upscaled[1:-1], truth[1:-1])["J_mean"])
    assert max(scores) > min(scores) + 0.2  # the two flows really disagree here
    assert int(np.argmax(scores)) == kept and seg.flow == kept
    np.testing.assert_array_equal(seg.masks, seg.alternatives[kept])
