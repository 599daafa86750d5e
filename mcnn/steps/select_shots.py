"""Choose each video's most reliable shot for fine-tuning (paper 3.3): write the scored table."""

from __future__ import annotations

import json

from mcnn import selection
from mcnn.core import device


def add_arguments(parser) -> None:
    parser.add_argument("--checkpoint", required=True, help="model.pt of the trained M-CNN")
    parser.add_argument("--samples", nargs="+", required=True, help="training samples HDF5 files")
    parser.add_argument("--params", required=True, help="config['train']['select'] as JSON")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--output", required=True, help="selection table CSV")
    device.add_arguments(parser)


def main(args) -> None:
    on = device.job_device("select_shots", args.output, args.gpus, args.allow_cpu, args.device)
    selection.run(args.checkpoint, args.samples, json.loads(args.params), args.output, on)
