"""Prune motion-segmented shots (paper 4.2) and write the table of every shot's decision."""

from __future__ import annotations

import json

from mcnn.shots import prune


def add_arguments(parser) -> None:
    parser.add_argument("--motion", nargs="+", required=True, help="per-video motion HDF5 files")
    parser.add_argument("--params", required=True, help="config section shots.prune as JSON")
    parser.add_argument("--output", required=True, help="pruning table (CSV)")
    parser.add_argument(
        "--dataset", help="dataset name in the table (default: the motion files' folder name)"
    )


def main(args) -> None:
    prune.run(args.motion, json.loads(args.params), args.output, dataset=args.dataset)
