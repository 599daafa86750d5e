"""Fig. 4-style grid: image | ground truth | each checkpoint's prediction, on a VOC split."""

from __future__ import annotations

import argparse

from mcnn.core.io import DataError
from mcnn.evaluation import figures


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--checkpoints", nargs="+", required=True, metavar="NAME=CKPT", help="column name=model.pt"
    )
    parser.add_argument("--index", required=True, help="image shot index (<images>.shots.csv)")
    parser.add_argument("--split", default="val", help="split of the index to draw from")
    parser.add_argument("--count", type=int, default=6, help="number of images (rows)")
    parser.add_argument("--output", required=True, help="PNG file")
    parser.add_argument("--device", help="cpu, cuda, cuda:N (default: cuda if available)")


def main(args: argparse.Namespace) -> None:
    checkpoints = {}
    for item in args.checkpoints:
        name, sep, path = item.partition("=")
        if not sep or not name or not path or name in checkpoints:
            raise DataError(item, "expected a unique NAME=CHECKPOINT")
        checkpoints[name] = path
    figures.run(checkpoints, args.index, args.split, args.count, args.output, args.device)
