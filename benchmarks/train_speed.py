"""Training throughput (frames/s) and the share of each step spent waiting for latent labels.

Real DAVIS 2016 frames (10 per sequence, uniformly sampled, resized to --frame-size) with their
ground-truth masks as motion masks, written as a training-sample file; the compact network
(default; --backbone vgg16 for the paper's) is trained for --iterations with the `mcnn`
strategy in three label schemes: in-process and synchronous (workers 0, prefetch 0), a worker
pool without prefetch (labels from the training forward, the paper's exact scheme) and a
worker pool with prefetch. Prints frames/s and the label-wait share of each.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from mcnn import config as mcnn_config
from mcnn import train as training
from mcnn.core.io import read_gray, read_rgb
from mcnn.shots.samples import ShotSample, write_samples

DAVIS = Path(__file__).resolve().parents[2] / "shared" / "data" / "davis2016"


def davis_samples(root: Path, sequences: int, size: tuple[int, int]) -> list[ShotSample]:
    tags = pd.read_csv(root / "video_labels.csv")
    samples = []
    for row in tags.head(sequences).itertuples():
        frames = sorted((root / "JPEGImages" / "480p" / row.sequence).glob("*.jpg"))
        picks = np.linspace(0, len(frames) - 1, 10).round().astype(int)
        images, masks = [], []
        for pick in picks:
            frame = frames[pick]
            images.append(cv2.resize(read_rgb(frame), size, interpolation=cv2.INTER_AREA))
            mask = read_gray(root / "Annotations" / "480p" / row.sequence / f"{frame.stem}.png")
            masks.append(
                (cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST) > 0).astype(np.uint8)
            )
        masks = np.stack(masks)
        samples.append(
            ShotSample(
                np.stack(images),
                masks,
                masks * 255,
                picks,
                "davis",
                row.sequence,
                [row.label],
                f"{row.sequence}_s000",
            )
        )
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DAVIS)
    parser.add_argument("--sequences", type=int, default=4)
    parser.add_argument("--frame-size", type=int, nargs=2, default=[427, 240], help="width height")
    parser.add_argument("--crop", type=int, default=225)
    parser.add_argument("--iterations", type=int, default=12)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--prefetch", type=int, default=2)
    parser.add_argument("--backbone", default="compact", choices=["compact", "vgg16"])
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    samples = davis_samples(args.data, args.sequences, tuple(args.frame_size))
    classes = sorted({label for sample in samples for label in sample.labels})
    cfg = mcnn_config.validate({"classes": classes})
    params = cfg["train"]
    params["model"]["backbone"] = args.backbone
    schemes = {
        "in-process, synchronous": (0, 0),
        f"{args.workers} workers, synchronous": (args.workers, 0),
        f"{args.workers} workers, prefetch {args.prefetch}": (args.workers, args.prefetch),
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "samples.h5"
        write_samples(path, samples, {})
        print(
            f"{len(samples)} DAVIS shots, frames {args.frame_size}, crop {args.crop}, label side "
            f"{-(-args.crop // params['train']['label_stride'])}, {args.backbone}, "
            f"{args.iterations} iterations, strategy mcnn"
        )
        for name, (workers, prefetch) in schemes.items():
            params["train"].update(
                iterations=args.iterations,
                crop=args.crop,
                checkpoint_every=args.iterations,
                label_workers=workers,
                label_prefetch=prefetch,
            )
            start = time.perf_counter()
            summary = training.train(
                [path],
                params,
                cfg["labels"],
                classes,
                "mcnn",
                0,
                Path(tmp) / name.replace(" ", "_").replace(",", ""),
                device="cpu",
            )
            print(
                f"{name:28s} {summary['frames_per_s']:7.1f} frames/s   label wait "
                f"{100 * summary['label_wait_share']:5.1f} % of step time   "
                f"({time.perf_counter() - start:.1f} s with start-up)"
            )


if __name__ == "__main__":  # label workers are spawned: they re-import this module
    main()
