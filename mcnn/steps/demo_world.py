"""Generate the procedural demo world (YouTube-Objects and VOC layouts, with ground truth)."""

from __future__ import annotations

import json

from mcnn.demo.writer import run


def add_arguments(parser) -> None:
    parser.add_argument(
        "--params", required=True, help="JSON of the validated `demo_world` config section"
    )
    parser.add_argument("--output", help="folder to write (default: the section's `root`)")


def main(args) -> None:
    run(json.loads(args.params), args.output)
