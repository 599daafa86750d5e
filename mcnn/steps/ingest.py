"""Read one dataset in its original format and write its shot index (shots and boxes tables)."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from mcnn import config as mcnn_config
from mcnn.core.io import write_csv
from mcnn.datasets import Index, build_index

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", required=True, help="dataset name (key of `datasets`)")
    parser.add_argument("--params", required=True, help="the dataset's validated entry, JSON")
    parser.add_argument("--classes", required=True, help="config `classes`, JSON list")
    parser.add_argument("--shots", required=True, type=Path, help="output shots CSV")
    parser.add_argument("--boxes", required=True, type=Path, help="output boxes CSV")
    parser.add_argument(
        "--skipped", type=Path, help="output CSV of the files the reader skipped, and why"
    )


def run(
    name: str,
    dataset_cfg: dict,
    classes: list[str],
    shots_path: Path,
    boxes_path: Path,
    skipped_path: Path | None = None,
):
    index = build_index(name, dataset_cfg, classes)
    write_csv(shots_path, index.shots)
    write_csv(boxes_path, index.boxes)
    if skipped_path is not None:
        write_csv(skipped_path, index.skipped)
    log_counts(name, index)
    return index


def log_counts(name: str, index: Index) -> None:
    per_split = index.shots.groupby("split").agg(
        videos=("video_id", "nunique"), shots=("shot_id", "size"), frames=("num_frames", "sum")
    )
    for split, counts in per_split.iterrows():
        log.info(
            "%s [%s]: %d videos, %d shots, %d frames",
            name, split, counts.videos, counts.shots, counts.frames,
        )  # fmt: skip
    log.info("%s: %d boxes", name, len(index.boxes))
    if len(index.skipped):
        log.info("%s: %d files skipped (listed in the skipped table)", name, len(index.skipped))


def main(args: argparse.Namespace) -> None:
    # Validating the entry again fills its kind's defaults even when the caller passed a raw
    # entry (Snakemake's own validation does not fill defaults inside `datasets`).
    entry = json.loads(args.params)
    dataset_cfg = mcnn_config.validate({"datasets": {args.name: entry}})["datasets"][args.name]
    run(args.name, dataset_cfg, json.loads(args.classes), args.shots, args.boxes, args.skipped)
