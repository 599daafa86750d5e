"""DeepLab networks: layout, ImageNet initialisation and checkpoint files."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
import torch
import torchvision

from mcnn import config as mcnn_config
from mcnn.core.io import DataError
from mcnn.models import build_model, load_checkpoint, load_model, save_checkpoint
from mcnn.models.weights import VGG16_WEIGHTS_FILE


@pytest.fixture
def model_cfg(tmp_path, monkeypatch) -> dict:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))  # an empty hub cache
    return mcnn_config.validate({})["train"]["model"]


@pytest.mark.parametrize("arch, parameters", [("largefov", 20.5e6), ("smallfov", 65.1e6)])
def test_vgg16_deeplab_size_and_output_stride(model_cfg, arch, parameters):
    model = build_model(dict(model_cfg, arch=arch, pretrained=False), 21)
    assert model.init_weights == "vgg16: random weights (train.model.pretrained: false)"
    # Parameter counts of DeepLab-LargeFOV and DeepLab (4x4 fc6) in the DeepLab paper's table 2.
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(parameters, rel=0.002)
    with torch.no_grad():
        assert model.eval()(torch.rand(1, 3, 65, 47)).shape == (1, 21, 9, 6)  # ceil(/8)


def test_receptive_field_of_the_two_heads(model_cfg):
    """A pixel change reaches outputs within the field of view: wider for LargeFOV."""

    def reach(arch):
        cfg = dict(model_cfg, arch=arch, backbone="compact", dropout=0.0)
        model = build_model(cfg, 2).eval()
        image = torch.zeros(1, 3, 256, 256, requires_grad=True)
        model(image)[0, 1, 16, 16].backward()  # output pixel at input position 128
        columns = image.grad[0].abs().sum(dim=(0, 1)).nonzero()
        return int(columns.max() - columns.min())

    assert reach("largefov") > 1.3 * reach("smallfov")


def test_imagenet_weights_are_decimated_like_deeplab(model_cfg, tmp_path):
    vgg = torchvision.models.vgg16().state_dict()
    path = tmp_path / VGG16_WEIGHTS_FILE
    torch.save(vgg, path)
    model = build_model(dict(model_cfg, pretrained=str(path)), 11)
    assert torch.equal(model.features[0].weight, vgg["features.0.weight"])
    assert torch.equal(model.features[-3].weight, vgg["features.28.weight"])  # conv5_3
    fc6 = vgg["classifier.0.weight"].view(4096, 512, 7, 7)
    # 1024 of 4096 filters (every 4th), 3x3 of the 7x7 taps (every 3rd).
    assert torch.equal(model.fc6.weight[5], fc6[20][:, [0, 3, 6]][:, :, [0, 3, 6]])
    assert torch.equal(model.fc7.weight[2, 3, 0, 0], vgg["classifier.3.weight"][8, 12])
    small = build_model(dict(model_cfg, arch="smallfov", pretrained=str(path)), 11)
    assert torch.equal(small.fc6.weight[7], fc6[7][:, [0, 2, 4, 6]][:, :, [0, 2, 4, 6]])


def test_weights_found_in_the_torch_hub_cache(model_cfg, tmp_path):
    cache = tmp_path / "torch_home" / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    vgg = torchvision.models.vgg16().state_dict()
    torch.save(vgg, cache / VGG16_WEIGHTS_FILE)
    model = build_model(model_cfg, 3)
    assert model.init_weights == f"vgg16: ImageNet weights {cache / VGG16_WEIGHTS_FILE}"
    assert torch.equal(model.features[2].weight, vgg["features.2.weight"])


def test_checkpoint_round_trip_and_bad_files(model_cfg, tmp_path):
    cfg = dict(model_cfg, backbone="compact")
    model = build_model(cfg, 4)
    save_checkpoint(tmp_path / "m.pt", model, cfg, ["car", "cat", "dog"], iteration=7)
    loaded, checkpoint = load_model(tmp_path / "m.pt")
    assert checkpoint["iteration"] == 7 and checkpoint["num_labels"] == 4
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, loaded.state_dict()[name])
    assert not loaded.training
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(DataError, match="junk.pt"):
        load_checkpoint(tmp_path / "junk.pt")
    torch.save({"weights": 1}, tmp_path / "foreign.pt")
    with pytest.raises(DataError, match="not an mcnn checkpoint"):
        load_checkpoint(tmp_path / "foreign.pt")


class _RunsCode:
    """A pickled object whose loading would run code (writes the file named in `marker`)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_checkpoint_that_would_run_code_is_refused_naming_the_file(model_cfg, tmp_path):
    cfg = dict(model_cfg, backbone="compact")
    model = build_model(cfg, 2)
    marker = tmp_path / "code-ran"
    checkpoint = {"model": model.state_dict(), "model_cfg": cfg, "num_labels": 2,
                  "classes": ["cat"], "extra": _RunsCode(marker)}  # fmt: skip
    torch.save(checkpoint, tmp_path / "evil.pt")
    with pytest.raises(DataError, match=r"evil\.pt: .*refused") as error:
        load_checkpoint(tmp_path / "evil.pt")
    assert "io.open" in str(error.value) and "\n" not in str(error.value)
    assert not marker.exists()


def test_checkpoints_hold_plain_types_and_old_ones_with_numpy_scalars_still_load(
    model_cfg, tmp_path
):
    cfg = dict(model_cfg, backbone="compact")
    model = build_model(cfg, 2)
    state = {"history": [{"loss": np.float64(0.5), "frames": np.int64(4)}],
             "order": np.arange(3), "source": tmp_path / "x.h5"}  # fmt: skip
    save_checkpoint(tmp_path / "new.pt", model, cfg, ["cat"], **state)
    plain = torch.load(tmp_path / "new.pt", weights_only=True)  # no allow-list needed
    assert plain["history"] == [{"loss": 0.5, "frames": 4}]
    assert torch.equal(plain["order"], torch.arange(3)) and plain["source"] == str(
        tmp_path / "x.h5"
    )
    # An older save_checkpoint stored numpy scalars as they came (numpy 2 and 1.x names).
    row = {"loss": np.float64(0.25), "frames": np.int64(4), "ok": np.bool_(True)}
    old = {"model": model.state_dict(), "model_cfg": cfg, "num_labels": 2, "classes": ["cat"],
           "history": [row]}  # fmt: skip
    torch.save(old, tmp_path / "old.pt")
    with (
        zipfile.ZipFile(tmp_path / "old.pt") as zin,
        zipfile.ZipFile(tmp_path / "old1.pt", "w") as zout,
    ):
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename.endswith("data.pkl"):
                data = data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
            zout.writestr(info, data)
    for name in ("old.pt", "old1.pt"):
        history = load_checkpoint(tmp_path / name)["history"]
        assert history == [{"loss": 0.25, "frames": 4, "ok": True}], name
        load_model(tmp_path / name)
