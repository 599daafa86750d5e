"""DeepLab networks on a VGG-16 layout (Chen et al., ICLR 2015), as used by M-CNN (paper 3.1).

Both variants keep VGG-16's five convolution blocks, but only the first three max-pools
downsample (3x3, stride 2, pad 1), so the output stride is 8; pool4 and pool5 are 3x3 / stride
1 / pad 1 and conv5 is dilated by 2 to keep its field of view. The fully-connected layers become
convolutions:

- LargeFOV: fc6 3x3, dilation 12, 1024 channels; fc7 1x1, 1024 (field of view 224 px).
- SmallFOV (the original "DeepLab" of the same paper, the 128 px field of view M-CNN's table 1
  compares with): fc6 4x4, dilation 4, 4096 channels; fc7 1x1, 4096.

ImageNet initialisation follows DeepLab: VGG-16's fc6 (7x7x4096) and fc7 are decimated in space
and channels to the new kernel and width.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

log = logging.getLogger(__name__)

#: Convolutions per block and channels of VGG-16 (configuration "D").
VGG16_BLOCKS = ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512))
#: File name of torchvision's ImageNet VGG-16 weights in the hub cache.
VGG16_WEIGHTS_FILE = "vgg16-397923af.pth"
#: torchvision normalises ImageNet input with these (RGB, [0, 1] scale).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class HeadSpec:
    kernel: int
    dilation: int
    channels: int
    #: indices of VGG's 7x7 fc6 kernel kept when decimating it to `kernel`
    taps: tuple[int, ...]


HEADS = {
    "largefov": HeadSpec(kernel=3, dilation=12, channels=1024, taps=(0, 3, 6)),
    "smallfov": HeadSpec(kernel=4, dilation=4, channels=4096, taps=(0, 2, 4, 6)),
}


class DeepLab(nn.Module):
    """RGB float in [0, 1] (B, 3, H, W) -> logits (B, K, ceil(H / 8), ceil(W / 8))."""

    output_stride = 8

    def __init__(
        self,
        num_labels: int,
        arch: str,
        blocks: tuple[tuple[int, int], ...],
        fc_channels: int,
        dropout: float,
        batch_norm: bool = False,
    ):
        super().__init__()
        head = HEADS[arch]
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
        self.features = nn.Sequential(*layers)
        # An even kernel with dilation d spans (k - 1) * d + 1 pixels; this padding keeps the size.
        padding = (head.kernel - 1) * head.dilation // 2
        self.fc6 = nn.Conv2d(
            in_channels, fc_channels, head.kernel, padding=padding, dilation=head.dilation
        )
        self.fc7 = nn.Conv2d(fc_channels, fc_channels, 1)
        self.fc8 = nn.Conv2d(fc_channels, num_labels, 1)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self._init_random()

    def _init_random(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                nn.init.zeros_(module.bias)
        # DeepLab's classifier starts small so the first softmax is near uniform.
        nn.init.normal_(self.fc8.weight, std=0.01)

    def classifier_parameters(self) -> list[nn.Parameter]:
        return list(self.fc8.parameters())

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


def imagenet_weights_path(model_cfg: dict) -> Path | None:
    """The configured VGG-16 weights file, else the one in torch's hub cache, else None."""
    if model_cfg["pretrained"]:
        path = Path(model_cfg["pretrained"]).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"{path}: model.pretrained names no file")
        return path
    cached = Path(torch.hub.get_dir()) / "checkpoints" / VGG16_WEIGHTS_FILE
    return cached if cached.is_file() else None


def build_deeplab(model_cfg: dict, num_labels: int, load_pretrained: bool = True) -> DeepLab:
    """The network described by config["train"]["model"]; ImageNet init for vgg16 when available."""
    arch = model_cfg["arch"]
    if model_cfg["backbone"] == "compact":
        blocks = tuple((1, width) for width in model_cfg["compact_widths"])
        return DeepLab(
            num_labels,
            arch,
            blocks,
            model_cfg["compact_fc_channels"],
            model_cfg["dropout"],
            batch_norm=model_cfg["compact_batch_norm"],
        )
    model = DeepLab(num_labels, arch, VGG16_BLOCKS, HEADS[arch].channels, model_cfg["dropout"])
    if not load_pretrained:
        return model
    path = imagenet_weights_path(model_cfg)
    if path is None:
        log.warning(
            "no ImageNet VGG-16 weights (%s not in %s, model.pretrained empty): the network starts "
            "from RANDOM weights and will segment far worse than the paper's",
            VGG16_WEIGHTS_FILE,
            os.path.join(torch.hub.get_dir(), "checkpoints"),
        )
        return model
    model.load_vgg16_imagenet(torch.load(path, map_location="cpu", weights_only=True), arch)
    log.info("initialised %s from ImageNet weights %s", arch, path)
    return model
