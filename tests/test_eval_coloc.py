"""Co-localization: box IoU, largest component, the graph cut, CorLoc counting and the step."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from test_eval_voc import constant_checkpoint, eval_cfg

from mcnn.classes import YTO_CLASSES
from mcnn.cli import main as cli_main
from mcnn.core.io import DataError, write_image
from mcnn.datasets import BOX_COLUMNS, SHOT_COLUMNS
from mcnn.evaluation import coloc
from mcnn.motion.store import ShotMotion, shot_status_table, write_video_motion


def test_box_iou_uses_inclusive_pixel_coordinates():
    assert coloc.box_iou((0, 0, 9, 9), (0, 0, 9, 9)) == 1.0
    # 10x10 and 10x10 overlapping in 5x10 pixels: 50 / 150
    assert coloc.box_iou((0, 0, 9, 9), (5, 0, 14, 9)) == pytest.approx(50 / 150)
    assert coloc.box_iou((3, 3, 3, 3), (3, 3, 3, 3)) == 1.0  # a one-pixel box has area 1
    # boxes ending and starting on the same pixel share it: 1 / (25 + 25 - 1)
    assert coloc.box_iou((0, 0, 4, 4), (4, 4, 8, 8)) == pytest.approx(1 / 49)
    assert coloc.box_iou((0, 0, 4, 4), (5, 5, 8, 8)) == 0.0


def test_largest_component_box_uses_8_connectivity():
    mask = np.zeros((8, 10), bool)
    mask[1, 1] = mask[2, 2] = mask[3, 3] = True  # a diagonal: one 8-connected component of 3
    mask[5:7, 6:9] = True  # 6 pixels
    assert coloc.largest_component_box(mask) == (6, 5, 8, 6)
    mask[4, 4] = mask[5, 5] = mask[0, 0] = True  # the diagonal joins the block: 12 pixels
    assert coloc.largest_component_box(mask) == (0, 0, 8, 6)
    assert coloc.largest_component_box(np.zeros((4, 4), bool)) is None


def test_corloc_counts_frames_per_class_and_averages_classes():
    frames = pd.DataFrame(
        {
            "label": ["cat", "cat", "cat", "dog", "bird"],
            "localised": [True, False, True, True, False],
        }
    )
    res = coloc.corloc(frames, ["cat", "dog", "bird", "cow"])
    assert res["per_class"]["cat"] == {
        "frames": 3,
        "localised": 2,
        "corloc": pytest.approx(200 / 3),
    }
    assert res["per_class"]["cow"] == {"frames": 0, "localised": 0, "corloc": None}
    assert res["average"] == pytest.approx((200 / 3 + 100 + 0) / 3)  # cow left out
    assert res["pooled"] == pytest.approx(60.0) and res["frames"] == 5


def test_published_row_only_when_asked_and_the_classes_are_the_papers():
    frames = pd.DataFrame({"label": list(YTO_CLASSES), "localised": [True] * 10})
    summaries = {coloc.NETWORK: coloc.corloc(frames, list(YTO_CLASSES))}
    table = coloc.corloc_table(summaries, list(YTO_CLASSES), compare_published=True)
    assert table["source"].tolist() == ["ours", "published (Table 4)"]
    assert table.loc[1, "dog"] == 87.9 and table.loc[1, "average"] == 72.0
    assert len(coloc.corloc_table(summaries, list(YTO_CLASSES), compare_published=False)) == 1
    four = {coloc.NETWORK: coloc.corloc(frames[:4], list(YTO_CLASSES[:4]))}
    assert len(coloc.corloc_table(four, list(YTO_CLASSES[:4]), compare_published=True)) == 1


def _scene(rng):
    """A noisy blue 48x64 frame with a red 16x20 block at rows 10..25, columns 30..49 and a red
    6x6 decoy at rows 36..41, columns 4..9."""
    image = np.zeros((48, 64, 3))
    image[..., 2] = 180
    image[10:26, 30:50] = (200, 30, 30)
    image[36:42, 4:10] = (200, 30, 30)
    return np.clip(image + rng.normal(0, 8, image.shape), 0, 255).astype(np.uint8)


def test_segment_object_snaps_the_score_blob_to_the_colour_edges():
    image = _scene(np.random.default_rng(0))
    score = np.full((48, 64), 0.05)
    score[13:23, 34:46] = 0.9  # a blurry network blob, smaller than the object
    cfg = eval_cfg()["colocalization"] | {"superpixels": 120, "gmm_min_pixels": 20}
    mask = coloc.segment_object(image, score, cfg)
    # the red decoy has the object's colour but no network support: smaller, not the box
    assert coloc.largest_component_box(mask) == (30, 10, 49, 25)
    np.testing.assert_array_equal(coloc.segment_object(image, score, cfg), mask)  # deterministic


def test_segment_object_without_colour_samples_follows_the_network():
    image = _scene(np.random.default_rng(1))
    score = np.full((48, 64), 0.97)  # confident everywhere: no background sample
    cfg = eval_cfg()["colocalization"]
    assert coloc.segment_object(image, score, cfg).all()
    with pytest.raises(ValueError, match="below"):
        coloc.segment_object(image, score, cfg | {"bg_threshold": 0.6})


def _frames_index(tmp_path):
    """One shot of 3 frames (20x30) of class cat; boxes on frames 0 (big) and 2 (small)."""
    for k in range(3):
        write_image(tmp_path / "v" / f"{k:03d}.png", np.full((20, 30, 3), 90 + k, np.uint8))
    shot = dict.fromkeys(SHOT_COLUMNS, "") | {
        "dataset": "vids", "video_id": "v", "shot_id": "v_s000", "labels": "cat",
        "split": "test", "source": "frames", "path": str(tmp_path / "v" / "{frame:03d}.png"),
        "first_frame": 0, "last_frame": 2, "num_frames": 3, "width": 30, "height": 20,
    }  # fmt: skip
    pd.DataFrame([shot]).to_csv(tmp_path / "shots.csv", index=False)
    boxes = [
        ("vids", "v", "v_s000", 0, "cat", 2, 1, 28, 18),
        ("vids", "v", "v_s000", 2, "cat", 0, 0, 9, 9),
    ]
    pd.DataFrame(boxes, columns=BOX_COLUMNS).to_csv(tmp_path / "boxes.csv", index=False)


def _motion_file(path, shot_id, frame_numbers, masks, scale=1.0):
    masks = np.asarray(masks, np.uint8)
    shot = ShotMotion(shot_id, "ok", "", np.asarray(frame_numbers), masks, masks * 0, scale)
    write_video_motion(path, shot_id.split("_s")[0], [shot], {})
    return path


def test_colocalize_step_end_to_end(tmp_path):
    _frames_index(tmp_path)
    # The network says "cat" everywhere: the box is the whole frame (0, 0, 29, 19).
    ckpt = constant_checkpoint(tmp_path / "m.pt", ["dog", "cat"], label=2)
    # The motion mask of frame 0 is the left half (0, 0, 14, 19); frame 2 has no mask.
    half = np.zeros((1, 20, 30))
    half[0, :, :15] = 1
    motion = _motion_file(tmp_path / "v.h5", "v_s000", [0], half)
    out = tmp_path / "out"
    cli_main(
        ["colocalize", "--checkpoint", str(ckpt), "--index", str(tmp_path / "shots.csv"),
         "--boxes", str(tmp_path / "boxes.csv"), "--motion", str(motion),
         "--params", json.dumps(eval_cfg()),
         "--output", str(out / "t.csv"), "--summary", str(out / "s.json"),
         "--frames", str(out / "f.csv"), "--output-md", str(out / "t.md"),
         "--note", "tiny", "--device", "cpu"]
    )  # fmt: skip
    frames = pd.read_csv(out / "f.csv")
    network = frames[frames["method"] == coloc.NETWORK]
    assert network[["x0", "y0", "x1", "y1"]].to_numpy().tolist() == [[0, 0, 29, 19]] * 2
    assert network["iou"].tolist() == pytest.approx([27 * 18 / 600, 100 / 600])
    assert network["localised"].tolist() == [True, False]
    motion_rows = frames[frames["method"] == coloc.MOTION]
    assert motion_rows["frame"].tolist() == [0, 2]  # recorded, not dropped
    assert motion_rows["iou"].tolist() == pytest.approx(
        [13 * 18 / (27 * 18 + 15 * 20 - 13 * 18), 0]
    )
    assert motion_rows["localised"].tolist() == [False, False]
    assert motion_rows["no_box"].fillna("").tolist() == ["", "no motion mask for the frame"]
    summary = json.loads((out / "s.json").read_text())
    assert summary["per_class"]["cat"]["corloc"] == 50.0 and summary["average"] == 50.0
    assert summary["per_class"]["dog"]["corloc"] is None and summary["note"] == "tiny"
    assert summary["device"] == "cpu"
    assert summary["motion_masks"]["per_class"]["cat"]["corloc"] == 0.0
    assert summary["motion_masks"]["no_box"] == {"no motion mask for the frame": 1}
    table = pd.read_csv(out / "t.csv")
    assert table.columns.tolist() == ["method", "source", "dog", "cat", "average"]
    assert table["method"].tolist() == [coloc.NETWORK, coloc.MOTION]
    assert table["cat"].tolist() == [50.0, 0.0]
    markdown = (out / "t.md").read_text()
    assert "Note: tiny" in markdown and "not localised: 1 no motion mask for the frame." in markdown


def test_motion_mask_boxes_at_frame_size_largest_component_and_missing_masks(tmp_path):
    shots = pd.DataFrame(
        [
            {"shot_id": "v_s000", "width": 30, "height": 20},
            {"shot_id": "w_s000", "width": 30, "height": 20},
        ]
    )
    masks = np.zeros((2, 10, 15))  # half the frame size (scale 0.5)
    masks[0, 1:5, 8:14] = 1  # 24 pixels: frame rows 2..9, columns 16..27
    masks[0, 9, 0] = 1  # a one-pixel decoy far away: the box of the whole mask would take it
    paths = [_motion_file(tmp_path / "v.h5", "v_s000", [0, 1], masks, scale=0.5)]
    failed = ShotMotion.failed("w_s000", "too short")
    write_video_motion(tmp_path / "w.h5", "w", [failed], {})
    paths.append(tmp_path / "w.h5")
    rows = [
        ("v", "v_s000", 0, "cat", 16, 2, 27, 9),
        ("v", "v_s000", 1, "cat", 0, 0, 9, 9),  # empty mask
        ("v", "v_s000", 3, "cat", 0, 0, 9, 9),  # a frame the motion file lacks
        ("w", "w_s000", 0, "cat", 0, 0, 29, 19),  # failed shot
    ]
    boxes = pd.DataFrame([("d", *row) for row in rows], columns=BOX_COLUMNS)
    frames = coloc.motion_frame_results(shots, boxes, shot_status_table(paths))
    assert frames[["x0", "y0", "x1", "y1"]].iloc[0].tolist() == [16, 2, 27, 9]
    assert frames["iou"].tolist() == [1.0, 0.0, 0.0, 0.0]
    assert frames["localised"].tolist() == [True, False, False, False]
    assert frames["no_box"].tolist() == [
        "", "empty mask", "no motion mask for the frame", "motion failed: too short",
    ]  # fmt: skip
    assert (frames["method"] == coloc.MOTION).all()


def test_box_label_outside_the_network_classes_is_a_data_error(tmp_path):
    _frames_index(tmp_path)
    ckpt = constant_checkpoint(tmp_path / "m.pt", ["dog"], label=1)
    motion = [_motion_file(tmp_path / "v.h5", "v_s000", [0], np.ones((1, 20, 30)))]
    with pytest.raises(DataError, match="cat"):
        coloc.run(ckpt, tmp_path / "shots.csv", tmp_path / "boxes.csv", motion, eval_cfg(),
                  tmp_path / "t.csv", device="cpu")  # fmt: skip


def test_boxed_shot_in_no_motion_file_is_a_data_error(tmp_path):
    _frames_index(tmp_path)
    ckpt = constant_checkpoint(tmp_path / "m.pt", ["cat"], label=1)
    motion = [_motion_file(tmp_path / "u.h5", "u_s000", [0], np.ones((1, 20, 30)))]
    with pytest.raises(
        DataError, match=r"boxes\.csv: shots \['v_s000'\] are in none of the motion"
    ):
        coloc.run(ckpt, tmp_path / "shots.csv", tmp_path / "boxes.csv", motion, eval_cfg(),
                  tmp_path / "t.csv", device="cpu")  # fmt: skip


def test_every_nth_annotated_frame_of_each_shot():
    rows = [("d", "v", "v_s000", f, "cat", 0, 0, 1, 1) for f in (3, 4, 5, 6, 9)]
    rows += [("d", "v", "v_s000", 5, "dog", 0, 0, 1, 1)]  # a second box on frame 5
    rows += [("d", "w", "w_s000", f, "cat", 0, 0, 1, 1) for f in (0, 1)]
    boxes = pd.DataFrame(rows, columns=BOX_COLUMNS)
    kept = coloc.every_nth_frame(boxes, 2)
    assert list(zip(kept["shot_id"], kept["frame"], strict=True)) == [
        ("v_s000", 3), ("v_s000", 5), ("v_s000", 9), ("v_s000", 5), ("w_s000", 0)
    ]  # fmt: skip
    assert coloc.every_nth_frame(boxes, 1).equals(boxes)
