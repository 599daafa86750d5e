"""DeepLab networks (Chen et al., ICLR 2015), as used by M-CNN (paper 3.1): a backbone of output
stride 8 (or 16) and one of two fully-convolutional heads.

The VGG-16 backbone keeps VGG-16's five convolution blocks, but only the first three max-pools
downsample (3x3, stride 2, pad 1), so the output stride is 8; pool4 and pool5 are 3x3 / stride
1 / pad 1 and conv5 is dilated by 2 to keep its field of view. `compact` has the same layout with
one narrow convolution per block. timm backbones are in `mcnn.models.timm_backbone`. The heads:

- LargeFOV: fc6 3x3, dilation 12, 1024 channels; fc7 1x1, 1024 (field of view 224 px).
- SmallFOV (the original "DeepLab" of the same paper, the 128 px field of view M-CNN's table 1
  compares with): fc6 4x4, dilation 4, 4096 channels; fc7 1x1, 4096.

The dilations are those at output stride 8; at stride 16 they are halved, so that the head's
field of view in pixels stays the same for every backbone.

ImageNet initialisation follows DeepLab: VGG-16's fc6 (7x7x4096) and fc7 are decimated in space
and channels to the new kernel and width.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

#: Convolutions per block and channels of VGG-16 (configuration "D").
VGG16_BLOCKS = ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512))
#: torchvision normalises ImageNet input with these (RGB, [0, 1] scale).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class HeadSpec:
    kernel: int
    dilation: int  # at output stride 8
    channels: int
    #: indices of VGG's 7x7 fc6 kernel kept when decimating it to `kernel`
    taps: tuple[int, ...]


HEADS = {
    "largefov": HeadSpec(kernel=3, dilation=12, channels=1024, taps=(0, 3, 6)),
    "smallfov": HeadSpec(kernel=4, dilation=4, channels=4096, taps=(0, 2, 4, 6)),
}


def vgg_features(blocks: tuple[tuple[int, int], ...], batch_norm: bool = False) -> nn.Sequential:
    """VGG's convolution blocks with DeepLab's stride-8 pooling and dilated conv5."""
    layers: list[nn.Module] = []
    in_channels = 3
    for block, (num_convs, width) in enumerate(blocks):
        dilation = 2 if block == 4 else 1
        for _ in range(num_convs):
            layers.append(nn.Conv2d(in_channels, width, 3, padding=dilation, dilation=dilation))
            if batch_norm:
                layers.append(nn.BatchNorm2d(width))
            layers.append(nn.ReLU(inplace=True))
            in_channels = width
        stride = 2 if block < 3 else 1
        layers.append(nn.MaxPool2d(3, stride=stride, padding=1))
    return nn.Sequential(*layers)


def backbone_stages(features: nn.Module) -> list[nn.Module]:
    """The backbone's stages, input first: a VGG layout's convolution blocks (each ends in its
    max-pooling), or a timm backbone's own (`TimmFeatures.stages`)."""
    if hasattr(features, "stages"):
        return features.stages()
    blocks, current = [], []
    for layer in features:
        current.append(layer)
        if isinstance(layer, nn.MaxPool2d):
            blocks.append(nn.Sequential(*current))
            current = []
    return blocks


class DeepLab(nn.Module):
    """RGB float in [0, 1] (B, 3, H, W) -> logits (B, K, ceil(H / s), ceil(W / s)), s the stride.

    The network normalises its input itself with its backbone's mean and std, so every caller
    (training, prediction, selection, co-localization) feeds [0, 1] RGB. `timm` backbones keep
    mean and std in the state dict (they depend on where the ImageNet weights came from);
    VGG-16 and compact always use ImageNet's.
    """

    def __init__(
        self,
        num_labels: int,
        arch: str,
        features: nn.Module,
        feature_channels: int,
        fc_channels: int,
        dropout: float,
        output_stride: int = 8,
        mean: tuple[float, ...] = IMAGENET_MEAN,
        std: tuple[float, ...] = IMAGENET_STD,
        pretrained_features: bool = False,
        freeze_batch_norm: bool = False,
        freeze_features: bool = False,
        unfrozen_stages: int = 0,
    ):
        super().__init__()
        head = HEADS[arch]
        self.output_stride = output_stride
        self.features = features
        dilation = head.dilation * 8 // output_stride
        # An even kernel with dilation d spans (k - 1) * d + 1 pixels; this padding keeps the size.
        padding = (head.kernel - 1) * dilation // 2
        self.fc6 = nn.Conv2d(
            feature_channels, fc_channels, head.kernel, padding=padding, dilation=dilation
        )
        self.fc7 = nn.Conv2d(fc_channels, fc_channels, 1)
        self.fc8 = nn.Conv2d(fc_channels, num_labels, 1)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        persistent = pretrained_features
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=persistent)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=persistent)
        self.pretrained_features = pretrained_features
        self.freeze_batch_norm = freeze_batch_norm
        # A frozen backbone: only the head trains, and the backbone's pass keeps no gradient.
        self.freeze_features = freeze_features
        self.features.requires_grad_(not freeze_features)
        if unfrozen_stages:
            stages = backbone_stages(features)
            if unfrozen_stages > len(stages):
                raise ValueError(
                    f"train.model.unfrozen_stages {unfrozen_stages}: the backbone has "
                    f"{len(stages)} stages"
                )
            for stage in stages[-unfrozen_stages:]:
                stage.requires_grad_(True)
        #: Which weights initialised the network (set by mcnn.models.build_model).
        self.init_weights = "random"
        self._init_random()

    def _init_random(self) -> None:
        # A timm backbone keeps timm's own initialisation (or its ImageNet weights).
        modules = [self.fc6, self.fc7, self.fc8] if self.pretrained_features else self.modules()
        for module in modules:
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                nn.init.zeros_(module.bias)
        # DeepLab's classifier starts small so the first softmax is near uniform.
        nn.init.normal_(self.fc8.weight, std=0.01)

    def classifier_parameters(self) -> list[nn.Parameter]:
        """Layers that start from scratch on a pretrained backbone get DeepLab's larger rate."""
        new = [self.fc6, self.fc7, self.fc8] if self.pretrained_features else [self.fc8]
        return [p for layer in new for p in layer.parameters()]

    def train(self, mode: bool = True) -> DeepLab:
        super().train(mode)
        if self.freeze_features:  # inference mode throughout: batch norm and any dropout
            self.features.eval()
        elif self.freeze_batch_norm:
            # One shot's 10 frames make poor batch statistics: keep ImageNet's running ones.
            for module in self.features.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        return self

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = (images - self.mean) / self.std
        x = self.features(x)
        x = self.dropout(torch.relu(self.fc6(x)))
        x = self.dropout(torch.relu(self.fc7(x)))
        return self.fc8(x)

    def load_vgg16_imagenet(self, state: dict[str, torch.Tensor], arch: str) -> None:
        """Copy torchvision's VGG-16 ImageNet weights, decimating fc6/fc7 like DeepLab."""
        convs = [m for m in self.features if isinstance(m, nn.Conv2d)]
        source_convs = sorted({int(k.split(".")[1]) for k in state if k.startswith("features.")})
        if len(source_convs) != len(convs):
            raise ValueError(f"{len(source_convs)} conv layers in the weights, {len(convs)} here")
        with torch.no_grad():
            for conv, index in zip(convs, source_convs, strict=True):
                conv.weight.copy_(state[f"features.{index}.weight"])
                conv.bias.copy_(state[f"features.{index}.bias"])
            head = HEADS[arch]
            out_step = 4096 // self.fc6.out_channels
            taps = torch.tensor(head.taps)
            fc6 = state["classifier.0.weight"].view(4096, 512, 7, 7)
            fc6 = fc6[::out_step][:, :, taps][:, :, :, taps]
            self.fc6.weight.copy_(fc6)
            self.fc6.bias.copy_(state["classifier.0.bias"][::out_step])
            fc7 = state["classifier.3.weight"][::out_step, ::out_step]
            self.fc7.weight.copy_(fc7.reshape(self.fc7.weight.shape))
            self.fc7.bias.copy_(state["classifier.3.bias"][::out_step])
