"""Co-localization CorLoc of a checkpoint, and of the raw motion masks, on the box-annotated
frames of a video index."""

from __future__ import annotations

import argparse
import json

from mcnn.core import device
from mcnn.evaluation import coloc


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, help="network checkpoint (model.pt)")
    parser.add_argument("--index", required=True, help="video shot index (<videos>.shots.csv)")
    parser.add_argument("--boxes", required=True, help="box table (<videos>.boxes.csv)")
    parser.add_argument(
        "--motion", nargs="+", required=True, help="the videos' motion HDF5 files (raw masks)"
    )
    parser.add_argument("--params", required=True, help="the `evaluate` config section (JSON)")
    parser.add_argument("--output", required=True, help="CorLoc table (CSV, Table 4 layout)")
    parser.add_argument("--summary", help="JSON with per-class counts and settings")
    parser.add_argument("--frames", help="CSV with every frame's predicted box and IoU")
    parser.add_argument("--output-md", help="the table in Markdown")
    parser.add_argument(
        "--compare-published",
        action="store_true",
        help="print the paper's M-CNN row beside (only for YouTube-Objects with its 10 classes)",
    )
    parser.add_argument("--note", default="", help="how the setting differs from the paper's")
    parser.add_argument("--device", help="cpu, cuda, cuda:N (default: cuda if available)")
    device.add_arguments(parser)


def main(args: argparse.Namespace) -> None:
    coloc.run(
        checkpoint=args.checkpoint,
        index_path=args.index,
        boxes_path=args.boxes,
        motion_paths=args.motion,
        cfg=json.loads(args.params),
        output=args.output,
        summary_path=args.summary,
        frames_path=args.frames,
        markdown_path=args.output_md,
        compare_published=args.compare_published,
        note=args.note,
        device=device.job_device("colocalize", args.output, args.gpus, args.allow_cpu, args.device),
    )
