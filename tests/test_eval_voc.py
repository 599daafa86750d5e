"""VOC segmentation IoU: confusion matrix, protocols, accumulation and the evaluate-voc step."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import shared_dataset
from PIL import Image
from torch import nn

from mcnn import config as mcnn_config
from mcnn.classes import VOC_CLASSES, YTO_CLASSES, voc_palette
from mcnn.cli import main as cli_main
from mcnn.core.io import DataError, write_image
from mcnn.datasets import SHOT_COLUMNS, build_index
from mcnn.datasets.frames import read_mask
from mcnn.evaluation import voc
from mcnn.models import build_model, save_checkpoint
from mcnn.predict import predict_scores

AERO, CAT, DOG, PERSON = (VOC_CLASSES.index(n) for n in ("aeroplane", "cat", "dog", "person"))


def constant_checkpoint(path: Path, classes: list[str], label: int, arch: str = "largefov"):
    """A tiny compact network that predicts `label` at every pixel (fc8 = bias only)."""
    cfg = mcnn_config.validate({})["train"]["model"]
    cfg = dict(cfg, arch=arch, backbone="compact", compact_widths=[4] * 5, compact_fc_channels=4)
    model = build_model(cfg, 1 + len(classes))
    with torch.no_grad():
        model.fc8.weight.zero_()
        model.fc8.bias.zero_()
        model.fc8.bias[label] = 5.0
    save_checkpoint(path, model, cfg, classes)
    return path


def eval_cfg(**overrides) -> dict:
    return mcnn_config.validate({"evaluate": overrides})["evaluate"]


def test_confusion_ignores_void_and_iou_by_hand():
    gt = np.array([[0, 1], [255, 2]], np.uint8)
    pred = np.array([[0, 2], [1, 2]], np.uint8)
    conf = voc.confusion_matrix(gt, pred, 3)
    assert conf.tolist() == [[1, 0, 0], [0, 0, 1], [0, 0, 1]]
    # bg 1/1; class 1: TP 0, FN 1; class 2: TP 1, FP 1 (the class-1 pixel)
    np.testing.assert_allclose(voc.class_iou(conf), [1.0, 0.0, 0.5])
    assert voc.mean_iou(voc.class_iou(conf)) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="outside"):
        voc.confusion_matrix(gt, pred, 2)


def test_absent_class_is_undefined_and_left_out_of_the_mean_but_a_false_positive_counts():
    gt = np.array([[0, 0, 1, 1]], np.uint8)
    conf = voc.confusion_matrix(gt, np.array([[0, 0, 1, 1]], np.uint8), 4)
    iou = voc.class_iou(conf)
    assert iou[:2].tolist() == [1.0, 1.0] and np.isnan(iou[2:]).all()
    assert voc.mean_iou(iou) == 1.0  # classes 2 and 3: in neither gt nor prediction
    # class 3 predicted once but never in the ground truth: IoU 0, in the mean
    iou = voc.class_iou(voc.confusion_matrix(gt, np.array([[0, 3, 1, 1]], np.uint8), 4))
    assert iou[0] == 0.5 and iou[3] == 0.0 and np.isnan(iou[2])
    assert voc.mean_iou(iou) == pytest.approx((0.5 + 1.0 + 0.0) / 3)
    assert math.isnan(voc.mean_iou(np.full(3, np.nan)))


def test_accumulation_over_the_split_is_not_a_mean_of_image_scores():
    acc = voc.Accumulator(["aeroplane"], ["subset"])
    big = np.full((10, 10), AERO, np.uint8)  # 100 aeroplane pixels, all found
    small = np.zeros((10, 10), np.uint8)
    small[0, 0] = AERO  # one aeroplane pixel, missed
    acc.add(big, np.ones((10, 10), np.uint8))
    acc.add(small, np.zeros((10, 10), np.uint8))
    res = acc.results()["subset"]
    assert res["images"] == 2
    # pooled: aeroplane TP 100, FN 1 -> 100/101; background TP 99, FP 1 -> 99/100
    assert res["iou"] == pytest.approx([99 / 100, 100 / 101])
    per_image_aero = (1.0 + 0.0) / 2
    assert res["iou"][1] != pytest.approx(per_image_aero)
    assert res["mean_iou"] == pytest.approx((99 / 100 + 100 / 101) / 2)


def test_subset_protocol_maps_other_classes_to_background_and_skips_their_images():
    acc = voc.Accumulator(["aeroplane", "cat"], ["all", "subset"])
    mask = np.array([[AERO, PERSON], [CAT, 255]], np.uint8)
    pred = np.array([[1, 0], [1, 2]], np.uint8)  # person -> bg right; cat predicted aeroplane
    assert acc.wanted(mask) == ["subset"]  # `all` does not apply to 2 classes
    assert acc.wanted(np.full((2, 2), PERSON, np.uint8)) == []
    acc.add(mask, pred)
    res = acc.results()
    assert res["all"] == {"applicable": False, "reason": voc.all_protocol_problem(acc.classes)}
    sub = res["subset"]
    assert sub["labels"] == ["background", "aeroplane", "cat"]
    assert np.asarray(sub["confusion"]).tolist() == [[1, 0, 0], [0, 1, 0], [0, 1, 0]]
    assert sub["iou"] == [1.0, 0.5, 0.0]


def test_all_protocol_maps_predictions_to_voc_values_whatever_the_class_order():
    classes = list(reversed(VOC_CLASSES[1:]))  # tvmonitor is label 1, aeroplane label 20
    acc = voc.Accumulator(classes, ["all", "subset"])
    mask = np.array([[0, AERO, DOG, 255]], np.uint8)
    pred = np.array([[0, 20, classes.index("dog") + 1, 5]], np.uint8)
    acc.add(mask, pred)
    res = acc.results()["all"]
    assert res["applicable"] and res["labels"] == list(VOC_CLASSES) and res["images"] == 1
    assert res["classes_in_mean"] == 3 and res["mean_iou"] == 1.0


class RedLabelModel(nn.Module):
    """A fake network: label = round(red * 255 / 50) at full resolution (stride 1)."""

    def forward(self, images):
        label = (images[:, 0] * 255 / 50).round().long()
        return 20.0 * nn.functional.one_hot(label, 3).permute(0, 3, 1, 2).float()


def png_index(tmp_path: Path, images: list[np.ndarray], masks: list[np.ndarray]) -> pd.DataFrame:
    rows = []
    for k, (image, mask) in enumerate(zip(images, masks, strict=True)):
        write_image(tmp_path / f"im{k}.png", image)  # lossless, so the red channel is exact
        Image.fromarray(mask).save(tmp_path / f"im{k}_gt.png")
        rows.append(
            dict.fromkeys(SHOT_COLUMNS, "")
            | {
                "dataset": "t", "video_id": f"im{k}", "shot_id": f"im{k}_s000", "split": "val",
                "source": "image", "path": str(tmp_path / f"im{k}.png"),
                "mask_path": str(tmp_path / f"im{k}_gt.png"), "mask_format": "voc",
                "first_frame": 0, "last_frame": 0, "num_frames": 1,
                "width": image.shape[1], "height": image.shape[0],
            }
        )  # fmt: skip
    return pd.DataFrame(rows)


def test_evaluate_accumulates_network_predictions_and_writes_voc_pngs(tmp_path):
    classes = ["aeroplane", "cat"]
    pred_a = np.array([[0, 1, 1], [2, 2, 0]], np.uint8)
    gt_a = np.array([[0, AERO, AERO], [CAT, PERSON, 255]], np.uint8)
    gt_b = np.full((2, 3), PERSON, np.uint8)  # no class of the model: not evaluated
    images = [np.dstack([50 * p, p, p]).astype(np.uint8) for p in (pred_a, pred_a)]
    rows = png_index(tmp_path, images, [gt_a, gt_b])
    out = tmp_path / "pred"
    res = voc.evaluate(RedLabelModel(), classes, rows, eval_cfg(), "cpu", out)["subset"]
    # gt bg (incl. person) 2 px: predicted 0 and 2; aeroplane 2/2; cat 1/1
    assert np.asarray(res["confusion"]).tolist() == [[1, 0, 1], [0, 2, 0], [0, 0, 1]]
    assert res["iou"] == pytest.approx([0.5, 1.0, 0.5]) and res["images"] == 1
    assert sorted(p.name for p in out.iterdir()) == ["im0.png"]
    written = np.array(Image.open(out / "im0.png"))
    assert written.tolist() == [[0, AERO, AERO], [CAT, CAT, 0]]  # VOC values


def test_flip_and_scales_average_the_scores():
    class Position(nn.Module):  # object logit grows with the column, whatever the image
        def forward(self, images):
            ramp = torch.linspace(0, 3, images.shape[-1]).expand_as(images[:, 0])
            return torch.stack([torch.zeros_like(ramp), ramp], 1)

    image = np.zeros((4, 6, 3), np.uint8)
    plain = predict_scores(Position(), image)
    flipped = predict_scores(Position(), image, flip=True)
    # the mirrored image's scores are mirrored back: the position ramp runs the other way
    torch.testing.assert_close(flipped, (plain + plain.flip(-1)) / 2)

    class Pointwise(nn.Module):  # object logit = red: scores do not depend on the scale
        def forward(self, images):
            return torch.stack([torch.full_like(images[:, 0], 0.5), images[:, 0]], 1)

    flat = np.full((8, 8, 3), 100, np.uint8)
    torch.testing.assert_close(
        predict_scores(Pointwise(), flat, scales=(0.5, 1.0, 1.5)), predict_scores(Pointwise(), flat)
    )


def _tiny_voc(root: Path) -> Path:
    """VOC layout, split val: a1 aeroplane+void, p1 person only, c1 cat+dog."""
    voc_root = root / "VOC2012"
    masks = {
        "a1": np.pad(np.full((6, 8), AERO, np.uint8), 2, constant_values=0),
        "p1": np.full((10, 12), PERSON, np.uint8),
        "c1": np.block([[np.full((10, 6), CAT, np.uint8), np.full((10, 6), DOG, np.uint8)]]),
    }
    masks["a1"][0, :4] = 255
    for name, mask in masks.items():
        write_image(voc_root / "JPEGImages" / f"{name}.jpg", np.zeros((10, 12, 3), np.uint8))
        image = Image.fromarray(mask, mode="P")
        image.putpalette(voc_palette().ravel().tolist())
        (voc_root / "SegmentationClass").mkdir(parents=True, exist_ok=True)
        image.save(voc_root / "SegmentationClass" / f"{name}.png")
    (voc_root / "ImageSets" / "Segmentation").mkdir(parents=True)
    (voc_root / "ImageSets" / "Segmentation" / "val.txt").write_text("a1\np1\nc1\n")
    return voc_root


def test_evaluate_voc_step_end_to_end(tmp_path):
    classes = ["aeroplane", "cat"]
    entry = {
        "kind": "voc2012",
        "root": str(_tiny_voc(tmp_path)),
        "splits": ["val"],
        "keep_images_without_classes": True,
    }
    index = build_index(
        "tiny", mcnn_config.validate({"datasets": {"t": entry}})["datasets"]["t"], classes
    )
    index_path = tmp_path / "tiny.shots.csv"
    index.shots.to_csv(index_path, index=False)
    ckpt = constant_checkpoint(tmp_path / "model.pt", classes, label=0)  # all background
    out = tmp_path / "res.json"
    argv = ["evaluate-voc", "--checkpoint", str(ckpt), "--index", str(index_path),
            "--params", json.dumps(eval_cfg()), "--output", str(out), "--variant", "mcnn",
            "--fov", "largefov", "--seed", "3", "--device", "cpu"]  # fmt: skip
    cli_main(argv)
    res = json.loads(out.read_text())
    assert (res["variant"], res["fov"], res["seed"], res["classes"]) == (
        "mcnn",
        "largefov",
        3,
        classes,
    )
    assert res["protocols"]["all"]["applicable"] is False and res["device"] == "cpu"
    sub = res["protocols"]["subset"]
    assert sub["images"] == 2  # p1 holds no class of the model
    # a1: 120 px - 4 void, 48 aeroplane; c1: 60 cat, 60 dog (-> background); all predicted bg
    bg_pixels = (116 - 48) + 60
    assert sub["iou"] == [pytest.approx(bg_pixels / (bg_pixels + 48 + 60)), 0.0, 0.0]
    assert sub["mean_iou"] == pytest.approx(sub["iou"][0] / 3)
    with pytest.raises(DataError, match="smallfov"):
        cli_main([*argv[:-6], "--fov", "smallfov", "--device", "cpu"])


def test_subset_images_of_real_voc_are_those_the_reader_tags():
    """Our image filter and the VOC reader agree on which images show the 10 classes."""
    root = shared_dataset("voc2012") / "VOC2012"
    entry = {"kind": "voc2012", "root": str(root), "splits": ["train"],
             "keep_images_without_classes": True}  # fmt: skip
    cfg = mcnn_config.validate({"datasets": {"v": entry}})["datasets"]["v"]
    shots = build_index("v", cfg, list(YTO_CLASSES)).shots
    acc = voc.Accumulator(list(YTO_CLASSES), ["subset"])
    wanted = [bool(acc.wanted(read_mask(row, 0))) for row in shots.to_dict("records")]
    assert wanted == (shots["labels"] != "").tolist()
    assert 0 < sum(wanted) < len(shots)


def test_a_split_without_images_is_a_data_error(tmp_path):
    rows = png_index(tmp_path, [np.zeros((2, 2, 3), np.uint8)], [np.zeros((2, 2), np.uint8)])
    rows.to_csv(tmp_path / "i.csv", index=False)
    ckpt = constant_checkpoint(tmp_path / "m.pt", ["cat"], 0)
    with pytest.raises(DataError, match="no image in split 'test'"):
        voc.run(ckpt, tmp_path / "i.csv", "test", eval_cfg(), tmp_path / "o.json", device="cpu")
