"""Speed of label inference against cv2.grabCut on real DAVIS 2016 frames at 321 x 321.

For each sequence, 10 frames spread over the first 40; the ground-truth masks, eroded and
shifted, play the motion masks, and a smoothed noisy map built from the ground truth plays the
network's softmax. Prints ms per frame for M-CNN inference with one tag (graph cut), with two
tags (alpha-expansion), and for cv2.grabCut (4 iterations, mask initialisation, same frames),
the ratio to grabCut, the IoU of each with the ground truth, and whether a second run gives
identical labels.

    python benchmarks/label_speed.py [--data ../shared/data/davis2016] [--sequences bear boat]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from mcnn.config import validate
from mcnn.core.io import read_gray, read_rgb
from mcnn.labels import infer_labels

SIZE = 321
N_CLASSES = 11  # background + the 10 YouTube-Objects classes
TAG, SECOND_TAG = 1, 2


def load_batch(root: Path, sequence: str) -> tuple[np.ndarray, np.ndarray]:
    paths = sorted((root / "JPEGImages" / "480p" / sequence).glob("*.jpg"))[:40:4]
    frames = np.stack([cv2.resize(read_rgb(p), (SIZE, SIZE)) for p in paths])
    truth = np.stack(
        [
            cv2.resize(
                read_gray(root / "Annotations" / "480p" / sequence / f"{p.stem}.png"),
                (SIZE, SIZE),
                interpolation=cv2.INTER_NEAREST,
            )
            > 0
            for p in paths
        ]
    )
    return frames, truth


def fake_motion(truth: np.ndarray) -> np.ndarray:
    eroded = np.stack([cv2.erode(t.astype(np.uint8), np.ones((7, 7), np.uint8)) for t in truth])
    return np.roll(eroded, (6, 12), axis=(1, 2))


def fake_probs(truth: np.ndarray, rng: np.random.Generator, tags) -> np.ndarray:
    """Softmax of smoothed (truth + noise): confident inside, uncertain near the boundary."""
    logits = np.full((len(truth), N_CLASSES, SIZE, SIZE), -3.0, np.float32)
    logits[:, 0] = 0.0
    for b, t in enumerate(truth):
        noise = cv2.GaussianBlur(rng.normal(0, 6, t.shape).astype(np.float32), (0, 0), 6)
        obj = cv2.GaussianBlur(t.astype(np.float32), (0, 0), 5) * 6 - 3 + noise
        logits[b, tags[0]] = obj
        if len(tags) > 1:  # the second class claims the left half of the object
            left = np.arange(SIZE)[None] < np.median(np.nonzero(t)[1]) if t.any() else False
            logits[b, tags[1]] = np.where(left, obj + 1, obj - 1)
    e = np.exp(logits - logits.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def grabcut(frames: np.ndarray, motion: np.ndarray, iterations: int) -> np.ndarray:
    out = []
    for frame, mask in zip(frames, motion, strict=True):
        gc_mask = np.where(mask > 0, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
        bgd, fgd = np.zeros((1, 65)), np.zeros((1, 65))
        bgr = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
        cv2.grabCut(bgr, gc_mask, None, bgd, fgd, iterations, cv2.GC_INIT_WITH_MASK)
        out.append((gc_mask == cv2.GC_FGD) | (gc_mask == cv2.GC_PR_FGD))
    return np.stack(out)


def timed(fn, *args):
    start = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start


def mcnn_labels(frames, motion, probs, tags, cfg):
    return infer_labels(frames, motion, probs, tags, cfg, "mcnn", rng=np.random.default_rng(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_data = Path(__file__).resolve().parents[2] / "shared" / "data" / "davis2016"
    parser.add_argument("--data", type=Path, default=default_data)
    parser.add_argument(
        "--sequences", nargs="+", default=["bear", "boat", "car-turn", "dog-agility"]
    )
    args = parser.parse_args()
    cfg = validate({})["labels"]
    cv2.setNumThreads(1)
    totals = {"mcnn": 0.0, "expansion": 0.0, "grabcut": 0.0}
    scores = {"motion": [], "mcnn": [], "expansion": [], "grabcut": []}
    n_frames, identical = 0, True
    for sequence in args.sequences:
        frames, truth = load_batch(args.data, sequence)
        motion = fake_motion(truth)
        rng = np.random.default_rng(0)
        one_tag = fake_probs(truth, rng, [TAG])
        two_tags = fake_probs(truth, rng, [TAG, SECOND_TAG])

        labels, seconds = timed(mcnn_labels, frames, motion, one_tag, [TAG], cfg)
        identical &= np.array_equal(labels, mcnn_labels(frames, motion, one_tag, [TAG], cfg))
        totals["mcnn"] += seconds
        multi, seconds = timed(mcnn_labels, frames, motion, two_tags, [TAG, SECOND_TAG], cfg)
        totals["expansion"] += seconds
        cut, seconds = timed(grabcut, frames, motion, cfg["iterations"])
        totals["grabcut"] += seconds
        n_frames += len(frames)
        for name, result in [
            ("motion", motion > 0),
            ("mcnn", labels > 0),
            ("expansion", multi > 0),
            ("grabcut", cut),
        ]:
            scores[name].append(np.mean([iou(r, t) for r, t in zip(result, truth, strict=True)]))
    ms = {name: 1000 * total / n_frames for name, total in totals.items()}
    print(f"{n_frames} frames of {len(args.sequences)} DAVIS sequences at {SIZE}x{SIZE}")
    print(f"M-CNN, one tag, graph cut, {cfg['iterations']} iterations: {ms['mcnn']:.1f} ms/frame")
    print(f"M-CNN, two tags, alpha-expansion:        {ms['expansion']:.1f} ms/frame")
    print(
        f"cv2.grabCut, {cfg['iterations']} iterations, mask init:      {ms['grabcut']:.1f} ms/frame"
    )
    print(
        f"ratio M-CNN / grabCut: one tag {ms['mcnn'] / ms['grabcut']:.2f}, two tags "
        f"{ms['expansion'] / ms['grabcut']:.2f}"
    )
    print(
        "mean IoU with ground truth: "
        + ", ".join(f"{k} {np.mean(v):.3f}" for k, v in scores.items())
    )
    print(f"identical labels on a second run: {identical}")


if __name__ == "__main__":
    main()
