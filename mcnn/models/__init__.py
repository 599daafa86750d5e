"""The segmentation networks and their checkpoint files.

A checkpoint (`model.pt`, `checkpoint.pt`) is a `torch.save`d dict with at least `model`
(state dict), `model_cfg` (config["train"]["model"]), `num_labels` and `classes`; training
checkpoints add the optimiser, scheduler, RNG and data-order state (see mcnn.train).
"""

from __future__ import annotations

import os
import pickle
import re
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mcnn.core.io import DataError, atomic_path
from mcnn.models.deeplab import HEADS, VGG16_BLOCKS, DeepLab, vgg_features
from mcnn.models.timm_backbone import build_timm_deeplab
from mcnn.models.weights import WeightsNotFound, find_vgg16_weights, read_state_dict

__all__ = [
    "DeepLab",
    "WeightsNotFound",
    "build_model",
    "load_checkpoint",
    "load_model",
    "predict_labels",
    "save_checkpoint",
    "unwrap",
]

REQUIRED_KEYS = ("model", "model_cfg", "num_labels", "classes")

#: The only non-torch types a checkpoint may hold: numpy scalars (with their dtypes), which
#: older checkpoints could carry in their training history. Nothing here runs code on load.
NUMPY_SCALAR_GLOBALS = [
    np._core.multiarray.scalar,
    (np._core.multiarray.scalar, "numpy.core.multiarray.scalar"),  # as numpy 1.x pickled it
    np.dtype,
    *(type(np.dtype(code)) for code in "?bhilqBHILQefdg"),
]


def build_model(cfg: dict, num_labels: int, load_pretrained: bool = True) -> DeepLab:
    """The network for config["train"]["model"] with `num_labels` outputs (1 + classes).

    vgg16 and timm backbones start from ImageNet weights (mcnn.models.weights says where they
    are looked for; none found raises WeightsNotFound) unless `pretrained` is false, or
    `load_pretrained` is false because a checkpoint's weights follow. `model.init_weights` says
    which weights initialised it.
    """
    backbone, arch = cfg["backbone"], cfg["arch"]
    if cfg["freeze_backbone"] and (backbone == "compact" or cfg["pretrained"] is False):
        why = (
            "compact always starts from random weights"
            if backbone == "compact"
            else "train.model.pretrained is false"
        )
        # A frozen random backbone would leave the head fitting noise.
        raise ValueError(f"train.model.freeze_backbone needs ImageNet weights, but {why}")
    if cfg["unfrozen_stages"] and not cfg["freeze_backbone"]:
        raise ValueError(
            "train.model.unfrozen_stages needs freeze_backbone (else every stage trains)"
        )
    if backbone not in ("compact", "vgg16"):
        return build_timm_deeplab(cfg, num_labels, load_pretrained)
    if cfg["output_stride"] != 8:
        raise ValueError(f"backbone {backbone} has output stride 8, not {cfg['output_stride']}")
    if backbone == "compact":
        features = vgg_features(
            tuple((1, width) for width in cfg["compact_widths"]), cfg["compact_batch_norm"]
        )
        model = DeepLab(
            num_labels,
            arch,
            features,
            cfg["compact_widths"][-1],
            cfg["compact_fc_channels"],
            cfg["dropout"],
        )
        model.init_weights = "compact: random weights (compact always trains from scratch)"
        return model
    features = vgg_features(VGG16_BLOCKS)
    model = DeepLab(
        num_labels,
        arch,
        features,
        512,
        HEADS[arch].channels,
        cfg["dropout"],
        freeze_features=cfg["freeze_backbone"],
        unfrozen_stages=cfg["unfrozen_stages"],
    )
    pretrained = cfg["pretrained"]
    if not load_pretrained:
        return model
    if pretrained is False:
        model.init_weights = "vgg16: random weights (train.model.pretrained: false)"
        return model
    path = find_vgg16_weights() if pretrained is True else Path(pretrained).expanduser()
    if not path.is_file():
        raise DataError(path, "train.model.pretrained names no file")
    model.load_vgg16_imagenet(read_state_dict(path), arch)
    model.init_weights = f"vgg16: ImageNet weights {path}"
    return model


def unwrap(model: nn.Module) -> nn.Module:
    """The bare network inside a DistributedDataParallel wrapper (or the model itself)."""
    return model.module if hasattr(model, "module") else model


def save_checkpoint(
    path: str | os.PathLike, model: nn.Module, model_cfg: dict, classes: list[str], **state
) -> None:
    """Write the network, its description and any extra `state` atomically to `path`."""
    checkpoint = {
        "model": unwrap(model).state_dict(),
        "model_cfg": model_cfg,
        "num_labels": 1 + len(classes),
        "classes": list(classes),
        **state,
    }
    with atomic_path(path) as tmp:
        torch.save(_plain(checkpoint), tmp)


def _plain(value):
    """`value` as tensors, numbers, strings, lists and dicts only: what `load_checkpoint`'s
    weights-only unpickler accepts."""
    if isinstance(value, dict):
        return type(value)((key, _plain(item)) for key, item in value.items())
    if isinstance(value, list | tuple):
        return type(value)(_plain(item) for item in value)
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value))
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Read a checkpoint; a missing, corrupt or foreign file raises DataError naming it.

    Only tensors, numbers, strings, lists and dicts (and numpy scalars) are unpickled: a file
    that needs any other object (which could run code on load) is refused.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "checkpoint file does not exist")
    try:
        with torch.serialization.safe_globals(NUMPY_SCALAR_GLOBALS):
            checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch's message explains weights_only at length: keep only the offending object
        found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(exc))
        what = found[1] if found else str(exc).splitlines()[0]
        raise DataError(
            path,
            f"checkpoint holds an object other than tensors, numbers, lists and dicts ({what}): "
            "refused, as loading it could run code",
        ) from exc
    except Exception as exc:  # torch raises several unrelated types for a bad file
        raise DataError(path, f"checkpoint cannot be read: {exc}") from exc
    missing = [
        key for key in REQUIRED_KEYS if not isinstance(checkpoint, dict) or key not in checkpoint
    ]
    if missing:
        raise DataError(path, f"not an mcnn checkpoint (missing {', '.join(missing)})")
    return checkpoint


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[DeepLab, dict]:
    """The network stored in a checkpoint, on `device` in eval mode, and the checkpoint dict."""
    checkpoint = load_checkpoint(path)
    # Checkpoints written before these settings existed had a stride-8 VGG-16 or compact network.
    model_cfg = {
        "output_stride": 8,
        "head_channels": 0,
        "freeze_batch_norm": False,
        "freeze_backbone": False,
        "unfrozen_stages": 0,
        **checkpoint["model_cfg"],
    }
    model = build_model(model_cfg, checkpoint["num_labels"], load_pretrained=False)
    try:
        model.load_state_dict(checkpoint["model"])
    except RuntimeError as exc:
        raise DataError(path, f"weights do not fit the stored model settings: {exc}") from exc
    return model.to(device).eval(), checkpoint


@torch.no_grad()
def predict_probs(
    model: nn.Module, frames: np.ndarray, device: str | torch.device = "cpu"
) -> torch.Tensor:
    """Softmax scores (B, K, H, W) of RGB uint8 frames (B, H, W, 3), at the frames' size.

    The stride-8 scores are upsampled bilinearly (DeepLab's test-time scheme).
    """
    images = torch.from_numpy(np.ascontiguousarray(frames)).to(device)
    images = images.permute(0, 3, 1, 2).float().div_(255)
    logits = model(images).float()
    logits = F.interpolate(logits, size=frames.shape[1:3], mode="bilinear", align_corners=False)
    return torch.softmax(logits, dim=1)


def predict_labels(
    model: nn.Module, frames: np.ndarray, device: str | torch.device = "cpu"
) -> np.ndarray:
    """Arg-max labels uint8 (B, H, W) of RGB uint8 frames (B, H, W, 3), at the frames' size."""
    return predict_probs(model, frames, device).argmax(dim=1).to(torch.uint8).cpu().numpy()
