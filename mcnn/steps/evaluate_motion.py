"""DAVIS J/F of the motion segmentation against the ground-truth masks of a dataset."""

from __future__ import annotations

from mcnn.metrics import davis


def add_arguments(parser) -> None:
    parser.add_argument("--index", required=True, help="shot index (shots.csv) with mask_path")
    parser.add_argument("--motion", nargs="+", required=True, help="per-video motion HDF5 files")
    parser.add_argument("--output", required=True, help="per-sequence table (CSV)")
    parser.add_argument("--summary", help="JSON summary (default: the output with .json)")


def main(args) -> None:
    davis.run(args.index, args.motion, args.output, args.summary)
