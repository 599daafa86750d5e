"""Segmentation IoU of a checkpoint on a VOC-layout split (protocols `all` and `subset`)."""

from __future__ import annotations

import argparse
import json

from mcnn.core import device
from mcnn.evaluation import voc


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, help="network checkpoint (model.pt)")
    parser.add_argument("--index", required=True, help="image shot index (<images>.shots.csv)")
    parser.add_argument("--split", default="val", help="split of the index to evaluate")
    parser.add_argument("--params", required=True, help="the `evaluate` config section (JSON)")
    parser.add_argument("--output", required=True, help="result JSON")
    parser.add_argument("--predictions-dir", help="also write each prediction as a VOC PNG here")
    parser.add_argument("--variant", help="variant tag for the tables (em_adapt, mcnn, ...)")
    parser.add_argument("--fov", help="FOV tag (largefov, smallfov); must match the network")
    parser.add_argument("--seed", type=int, help="training seed tag")
    parser.add_argument("--device", help="cpu, cuda, cuda:N (default: cuda if available)")
    device.add_arguments(parser)


def main(args: argparse.Namespace) -> None:
    voc.run(
        checkpoint=args.checkpoint,
        index_path=args.index,
        split=args.split,
        cfg=json.loads(args.params),
        output=args.output,
        predictions_dir=args.predictions_dir,
        variant=args.variant,
        fov=args.fov,
        seed=args.seed,
        device=device.job_device(
            "evaluate_voc", args.output, args.gpus, args.allow_cpu, args.device
        ),
    )
