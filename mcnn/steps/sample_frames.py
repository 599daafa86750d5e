"""Sample training frames (with motion masks and boundary maps) from every kept shot."""

from __future__ import annotations

import json

from mcnn.shots import sample


def add_arguments(parser) -> None:
    parser.add_argument("--index", required=True, help="shot index of the dataset (shots.csv)")
    parser.add_argument("--pruned", required=True, help="pruning table of the dataset")
    parser.add_argument("--motion-dir", required=True, help="folder of the per-video motion HDF5")
    parser.add_argument("--params", required=True, help="config section shots.sample as JSON")
    parser.add_argument("--output", required=True, help="training-sample HDF5")


def main(args) -> None:
    sample.run(args.index, args.pruned, args.motion_dir, json.loads(args.params), args.output)
