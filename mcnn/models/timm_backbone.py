"""DeepLab heads on any timm backbone (dilated to output stride 8 or 16), ImageNet-initialised."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from mcnn.core.io import DataError
from mcnn.models.deeplab import HEADS, DeepLab
from mcnn.models.weights import Weights, find_timm_weights, weights_from_file


class TimmFeatures(nn.Module):
    """The last feature map of a timm model built with features_only and a dilated output stride."""

    def __init__(self, name: str, output_stride: int):
        super().__init__()
        import timm

        if not timm.is_model(name):
            raise ValueError(
                f"train.model.backbone {name!r} is neither vgg16, compact nor a timm model name "
                "(timm.list_models() lists them)"
            )
        self.body = timm.create_model(
            name, pretrained=False, features_only=True, output_stride=output_stride
        )
        self.channels = self.body.feature_info.channels()[-1]

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.body(images)[-1]

    def stages(self) -> list[nn.Module]:
        """The backbone's stages, input first (for train.model.unfrozen_stages)."""
        if hasattr(self.body, "blocks"):  # EfficientNet, MobileNet and kin
            return list(self.body.blocks)
        layers = [getattr(self.body, f"layer{k}", None) for k in range(1, 5)]
        if all(layers):  # ResNet and kin
            return layers
        raise ValueError(
            f"train.model.unfrozen_stages: no stages known for timm model {type(self.body)}"
        )

    def load_weights(self, weights: Weights) -> None:
        """Copy the backbone's tensors; every one must be in `weights` (its classifier may not)."""
        result = self.body.load_state_dict(weights.state, strict=False)
        if result.missing_keys:
            raise DataError(
                weights.path,
                f"{len(result.missing_keys)} backbone tensors missing, e.g. "
                + ", ".join(result.missing_keys[:5]),
            )


def build_timm_deeplab(model_cfg: dict, num_labels: int, load_pretrained: bool) -> DeepLab:
    """DeepLab on timm backbone model_cfg["backbone"]; ImageNet weights unless pretrained: false.

    Without `load_pretrained` (a checkpoint's weights follow) the mean/std buffers are
    placeholders that the checkpoint's state dict overwrites.
    """
    name, arch = model_cfg["backbone"], model_cfg["arch"]
    features = TimmFeatures(name, model_cfg["output_stride"])
    pretrained = model_cfg["pretrained"]
    weights = None
    if load_pretrained and pretrained is not False:
        weights = (
            find_timm_weights(name)
            if pretrained is True
            else weights_from_file(name, Path(pretrained).expanduser())
        )
        features.load_weights(weights)
    norm = {"mean": tuple(weights.mean), "std": tuple(weights.std)} if weights else {}
    model = DeepLab(
        num_labels,
        arch,
        features,
        features.channels,
        model_cfg["head_channels"] or HEADS[arch].channels,
        model_cfg["dropout"],
        output_stride=model_cfg["output_stride"],
        pretrained_features=True,
        freeze_batch_norm=model_cfg["freeze_batch_norm"],
        freeze_features=model_cfg["freeze_backbone"],
        unfrozen_stages=model_cfg["unfrozen_stages"],
        **norm,
    )
    if weights is not None:
        model.init_weights = f"{name}: {weights.describe()}"
    elif load_pretrained:
        model.init_weights = f"{name}: random weights (train.model.pretrained: false)"
    return model
