"""RAFT optical flow speed (frames/s) through the motion stage's own `mcnn.motion.raft.RaftFlow`.

Real DAVIS 2016 frames (854 x 480, or shrunk to --max-side as the motion stage does), one flow
per consecutive pair. `--weights` is torchvision's Raft_Large_Weights state dict; without it
RAFT-large gets random weights, written to a temporary file (the speed is the same; the flows
are meaningless). The first pairs (CUDA set-up) are timed apart from the steady rate.

    python benchmarks/raft_speed.py [--device cuda] [--pairs 20] [--weights raft_large.pth]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from mcnn.core.io import read_rgb
from mcnn.motion.flow import resize_to_max_side

DAVIS = Path(__file__).resolve().parents[2] / "shared" / "data" / "davis2016"
WARM_UP = 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DAVIS)
    parser.add_argument("--sequence", default="car-turn")
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--max-side", type=int, default=0, help="0 = the frames' own size")
    parser.add_argument("--weights", type=Path, help="Raft_Large_Weights state dict")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    paths = sorted((args.data / "JPEGImages" / "480p" / args.sequence).glob("*.jpg"))
    if len(paths) < args.pairs + 1:
        raise SystemExit(f"{args.data}/JPEGImages/480p/{args.sequence}: too few frames")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch sees no CUDA device")
    frames = [read_rgb(p) for p in paths[: args.pairs + 1]]
    if args.max_side:
        frames = [resize_to_max_side(f, args.max_side) for f in frames]

    from mcnn.motion.raft import RaftFlow

    with tempfile.TemporaryDirectory() as tmp:
        weights = args.weights
        if weights is None:
            from torchvision.models.optical_flow import raft_large

            torch.manual_seed(0)
            weights = Path(tmp) / "random_raft_large.pth"
            torch.save(raft_large(weights=None, progress=False).state_dict(), weights)
        flow = RaftFlow(str(weights), args.device)
    times = []
    for first, second in zip(frames, frames[1:], strict=False):
        start = time.perf_counter()
        out = flow(first, second)
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
        assert out.shape == (*first.shape[:2], 2)
    steady = np.array(times[WARM_UP:])
    source = "random weights" if args.weights is None else args.weights
    print(
        f"RAFT-large ({source}) on {args.device}"
        + (f" ({torch.cuda.get_device_name()})" if args.device.startswith("cuda") else "")
        + f", {frames[0].shape[1]} x {frames[0].shape[0]} DAVIS {args.sequence}: "
        f"{1 / steady.mean():.2f} frames/s over {len(steady)} pairs "
        f"(first {WARM_UP} pairs {sum(times[:WARM_UP]):.2f} s)"
    )
    if args.device.startswith("cuda"):
        print(f"  peak GPU memory {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
