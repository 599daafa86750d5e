"""Training throughput (frames/s), the share of each step spent waiting for latent labels, and
peak memory, per backbone.

Real DAVIS 2016 frames (10 per sequence, uniformly sampled, resized to --frame-size) with their
ground-truth masks as motion masks, written as a training-sample file; each backbone of
--backbones (compact, a timm model such as efficientnet_lite0, vgg16) is trained for
--iterations with the `mcnn` strategy in each label scheme of --schemes: in-process and
synchronous (workers 0, prefetch 0), a worker pool without prefetch (labels from the training
forward, the paper's exact scheme) and a worker pool with prefetch. Each backbone runs in a fresh
process, so its peak resident memory (and peak GPU memory on CUDA) is its own. Prints frames/s,
the label-wait share, peak memory and the ratio of frames/s to the first backbone's.

--pretrained false starts vgg16/timm backbones from random weights (the speed is the same; use it
where the ImageNet weights are not on the machine).
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import resource
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch

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


SCHEMES = {
    "sync": ("in-process, synchronous", lambda workers, prefetch: (0, 0)),
    "pool": ("workers, synchronous", lambda workers, prefetch: (workers, 0)),
    "prefetch": ("workers, prefetch", lambda workers, prefetch: (workers, prefetch)),
}


def run_backbone(args: argparse.Namespace, backbone: str, path: Path, classes, out: Path) -> dict:
    """Train `backbone` in every scheme (in this process); frames/s, label wait, peak memory."""
    logging.basicConfig(level=logging.WARNING)
    cfg = mcnn_config.validate({"classes": classes})
    params = cfg["train"]
    params["model"].update(
        backbone=backbone,
        pretrained=args.pretrained,
        output_stride=args.output_stride if backbone not in ("compact", "vgg16") else 8,
        head_channels=args.head_channels,
    )
    results = {}
    for scheme in args.schemes:
        workers, prefetch = SCHEMES[scheme][1](args.workers, args.prefetch)
        params["train"].update(
            iterations=args.iterations,
            crop=args.crop,
            checkpoint_every=args.iterations,
            label_workers=workers,
            label_prefetch=prefetch,
            amp=args.amp,
        )
        start = time.perf_counter()
        summary = training.train(
            [path],
            params,
            cfg["labels"],
            classes,
            "mcnn",
            0,
            out / f"{backbone}-{scheme}",
            device=args.device,
        )
        steps = pd.read_csv(out / f"{backbone}-{scheme}" / "loss.csv")["step_s"]
        results[scheme] = {
            # The first steps pay for CUDA/cuDNN set-up and allocator growth: the median of
            # the steps after the first two is the steady step time.
            "median_step_s": float(steps.iloc[2:].median() if len(steps) > 2 else steps.median()),
            "device": summary["device"],
            "frames_per_s": summary["frames_per_s"],
            "label_wait_share": summary["label_wait_share"],
            "seconds_with_startup": time.perf_counter() - start,
        }
    results["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results["peak_label_worker_rss_mib"] = (
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    )
    if args.device.startswith("cuda"):
        results["gpu"] = torch.cuda.get_device_name()
        results["peak_gpu_mib"] = torch.cuda.max_memory_allocated() / 2**20
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DAVIS)
    parser.add_argument("--sequences", type=int, default=4)
    parser.add_argument("--frame-size", type=int, nargs=2, default=[427, 240], help="width height")
    parser.add_argument("--crop", type=int, default=225)
    parser.add_argument("--iterations", type=int, default=12)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--prefetch", type=int, default=2)
    parser.add_argument(
        "--backbones", nargs="+", default=["compact", "efficientnet_lite0", "vgg16"]
    )
    parser.add_argument("--schemes", nargs="+", choices=list(SCHEMES), default=list(SCHEMES))
    parser.add_argument("--pretrained", type=json.loads, default=True, help="true, false")
    parser.add_argument("--output-stride", type=int, default=8, choices=[8, 16])
    parser.add_argument("--head-channels", type=int, default=0, help="timm head; 0 = DeepLab's")
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--amp", type=json.loads, default=True, help="true, false: autocast on CUDA (train.amp)"
    )
    args = parser.parse_args()

    samples = davis_samples(args.data, args.sequences, tuple(args.frame_size))
    classes = sorted({label for sample in samples for label in sample.labels})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "samples.h5"
        write_samples(path, samples, {})
        print(
            f"{len(samples)} DAVIS shots, frames {args.frame_size}, crop {args.crop}, "
            f"{args.iterations} iterations, strategy mcnn, device {args.device}, pretrained "
            f"{args.pretrained}, timm output stride {args.output_stride}, "
            f"head channels {args.head_channels or 'DeepLab'}, AMP {args.amp} (CUDA only), "
            f"torch threads {torch.get_num_threads()}"
        )
        reference = None
        spawn = multiprocessing.get_context("spawn")
        for backbone in args.backbones:
            with ProcessPoolExecutor(1, mp_context=spawn) as pool:
                result = pool.submit(
                    run_backbone, args, backbone, path, classes, Path(tmp)
                ).result()
            memory = f"peak RSS {result['peak_rss_mib']:.0f} MiB"
            if "gpu" in result:
                memory += f", {result['gpu']} peak {result['peak_gpu_mib']:.0f} MiB"
            print(f"{backbone}: {memory}")
            for scheme in args.schemes:
                row = result[scheme]
                reference = reference or row["frames_per_s"]
                print(
                    f"  {SCHEMES[scheme][0]:24s} {row['frames_per_s']:7.2f} frames/s "
                    f"({row['frames_per_s'] / reference:5.2f} x {args.backbones[0]} "
                    f"{SCHEMES[args.schemes[0]][0]})   label wait "
                    f"{100 * row['label_wait_share']:5.1f} % of step time   "
                    f"median step {1000 * row['median_step_s']:7.1f} ms on {row['device']}   "
                    f"({row['seconds_with_startup']:.1f} s with start-up)"
                )


if __name__ == "__main__":  # label workers and backbone runs are spawned: they re-import this
    main()
