"""Motion-segmentation quality and speed: FST (mcnn.motion.fst) against a thresholded-flow baseline.

Data: the 14 DAVIS-2016 sequences and the 5 SegTrack v1 shots in ../shared/data (read with
plain OpenCV). Quality: DAVIS J (region IoU, mean over frames, first and last frame of each
sequence left out, `mcnn.metrics.davis`), also F. Speed: frames per CPU-second (flow + FST,
one thread) and peak memory.

    python benchmarks/motion_quality.py                       # everything (long)
    python benchmarks/motion_quality.py --sequences bear car-turn --max-frames 30
    python benchmarks/motion_quality.py --params '{"fst": {"superpixels": 1000}}'
"""

from __future__ import annotations

import os

# One thread everywhere, so that CPU time is the cost on one core.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from mcnn import config as mcnn_config  # noqa: E402
from mcnn.metrics.davis import evaluate_sequence  # noqa: E402
from mcnn.motion.flow import FlowEstimator, resize_to_max_side  # noqa: E402
from mcnn.motion.fst import segment_shot  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SEGTRACK_SHOTS = {  # name: (first, last) frame numbers, from the FST release's segmentSegTrack.m
    "birdfall": (1, 30),
    "cheetah": (31, 59),
    "girl": (60, 80),
    "monkeydog": (81, 151),
    "parachute": (152, 202),
}
PUBLISHED = {"davis": ("FST (published, DAVIS-2016 val)", 0.558)}
# DAVIS sequences never looked at while tuning the motion settings (the other 9 DAVIS
# sequences and the 5 SegTrack shots were the tuning set): reported as a separate row.
HELD_OUT = {"boat", "flamingo", "mallard-fly", "scooter-gray", "train"}


def read_rgb(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(path)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def read_mask(path: Path) -> np.ndarray:
    mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if mask is None:
        raise FileNotFoundError(path)
    return mask >= 128


def davis_sequences(root: Path, names: list[str] | None):
    base = root / "davis2016"
    for seq_dir in sorted((base / "JPEGImages" / "480p").iterdir()):
        if names and seq_dir.name not in names:
            continue
        frames = sorted(seq_dir.glob("*.jpg"))
        masks = [base / "Annotations" / "480p" / seq_dir.name / f"{f.stem}.png" for f in frames]
        yield seq_dir.name, frames, masks


def segtrack_sequences(root: Path, names: list[str] | None):
    base = root / "segtrack_v1"
    for name, (first, last) in SEGTRACK_SHOTS.items():
        if names and name not in names:
            continue
        numbers = range(first, last + 1)
        yield (
            name,
            [base / f"{n:08d}.jpg" for n in numbers],
            [base / "GroundTruth" / f"{n:08d}.png" for n in numbers],
        )


def scores(pred: np.ndarray, gt: np.ndarray) -> dict[str, float]:
    """DAVIS J/F statistics of (T, H, W) masks, first and last frame left out."""
    return evaluate_sequence(list(pred[1:-1]), list(gt[1:-1]))


def flow_baseline(frames: list[np.ndarray], cfg: dict, threshold: float) -> np.ndarray:
    """Pixels whose flow differs from the frame's median flow by more than `threshold` px."""
    estimate = FlowEstimator(cfg["flow"])
    small = [resize_to_max_side(f, cfg["flow"]["max_side"]) for f in frames]
    pairs = list(zip(small[:-1], small[1:], strict=True)) + [(small[-1], small[-2])]
    masks = []
    for a, b in pairs:
        flow = estimate(a, b)
        relative = flow - np.median(flow.reshape(-1, 2), axis=0)
        masks.append(np.linalg.norm(relative, axis=2) > threshold)
    return np.stack(masks)


def upscale(masks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    return np.stack(
        [
            cv2.resize(m.astype(np.uint8), shape[::-1], interpolation=cv2.INTER_NEAREST) > 0
            for m in masks
        ]
    )


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--datasets", nargs="+", default=["segtrack", "davis"])
    parser.add_argument("--sequences", nargs="+", help="only these sequences / shots")
    parser.add_argument("--max-frames", type=int, help="only the first N frames of each")
    parser.add_argument("--params", default="{}", help="JSON overrides of the motion section")
    parser.add_argument("--baseline-threshold", type=float, default=1.0, help="pixels")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    cfg = mcnn_config.validate({"motion": json.loads(args.params)})["motion"]
    readers = {"davis": davis_sequences, "segtrack": segtrack_sequences}

    rows = []
    for dataset in args.datasets:
        for name, frame_paths, mask_paths in readers[dataset](args.data, args.sequences):
            frame_paths, mask_paths = frame_paths[: args.max_frames], mask_paths[: args.max_frames]
            frames = [read_rgb(p) for p in frame_paths]
            gt = np.stack([read_mask(p) for p in mask_paths])
            cpu, wall = cpu_seconds(), time.perf_counter()
            seg = segment_shot(frames, cfg, args.seed, name=name)
            cpu, wall = cpu_seconds() - cpu, time.perf_counter() - wall
            fst = scores(upscale(seg.masks, gt.shape[1:]), gt)
            base = flow_baseline(frames, cfg, args.baseline_threshold)
            j_base = scores(upscale(base, gt.shape[1:]), gt)["J_mean"]
            rows.append(
                (dataset, name, len(frames), fst["J_mean"], j_base, cpu, wall, fst["F_mean"])
            )
            print(
                f"{dataset:8s} {name:16s} {len(frames):4d} frames  J fst {fst['J_mean']:.3f}  "
                f"F fst {fst['F_mean']:.3f}  J baseline {j_base:.3f}  "
                f"{len(frames) / cpu:5.2f} frames/cpu-s",
                flush=True,
            )

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        "\n| data | sequences | frames | J FST (ours) | F FST (ours) | J flow baseline "
        "| published FST J |"
    )
    print("|---|---|---|---|---|---|---|")
    groups = []
    for dataset in args.datasets:
        sel = [r for r in rows if r[0] == dataset]
        groups.append((dataset, sel))
        if dataset == "davis":
            groups.append(("davis tuning", [r for r in sel if r[1] not in HELD_OUT]))
            groups.append(("davis held out", [r for r in sel if r[1] in HELD_OUT]))
    for label, sel in groups:
        if not sel:
            continue
        published = PUBLISHED.get(label, ("", float("nan")))[1]
        print(
            f"| {label} | {len(sel)} | {sum(r[2] for r in sel)} | "
            f"{np.mean([r[3] for r in sel]):.3f} | {np.mean([r[7] for r in sel]):.3f} | "
            f"{np.mean([r[4] for r in sel]):.3f} | "
            f"{published:.3f} |"
        )
    frames_total = sum(r[2] for r in rows)
    print(
        f"\nspeed: {frames_total / sum(r[5] for r in rows):.2f} frames per CPU-second (one "
        f"thread), {frames_total / sum(r[6] for r in rows):.2f} frames/s wall; "
        f"flow + FST at max side {cfg['flow']['max_side']}; peak RSS {peak_mb:.0f} MiB"
    )


if __name__ == "__main__":
    main()
