"""Segment a folder of images, one image or a video: VOC-palette label PNGs and overlays."""

from __future__ import annotations

import argparse

from mcnn.core import device
from mcnn.predict import predict


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, help="network checkpoint (model.pt)")
    parser.add_argument("--input", required=True, help="folder of images, an image or a video")
    parser.add_argument("--output", required=True, help="folder for <name>.png and overlays")
    parser.add_argument("--device", help="cpu, cuda, cuda:N (default: cuda if available)")
    parser.add_argument("--batch-size", type=int, default=4, help="images per network pass")
    parser.add_argument(
        "--strict",
        action="store_true",
        help="exit non-zero when any image or frame failed (default: only when none worked)",
    )
    device.add_arguments(parser)


def main(args: argparse.Namespace) -> None:
    on = device.job_device("predict", args.output, args.gpus, args.allow_cpu, args.device)
    predict(args.checkpoint, args.input, args.output, on, args.batch_size, args.strict)
