"""How hard is the demo world? Trivial baselines against its ground-truth masks.

Generates the default demo world (or reads one already written) and scores, over every video
frame: constant masks (all background, all object, a centred ellipse), `|flow| > t` with OpenCV
DIS and Farneback flow, the camera-compensated `|flow - median flow| > t`, and optionally FST.
Also prints the share of frames whose object covers 2.5-50 % of the frame (the paper's pruning
range). Scores: J = IoU per frame (empty vs empty = 1) averaged over frames, and the IoU of all
pixels pooled.

    python benchmarks/demo_world_baselines.py                     # default world, in a temp dir
    python benchmarks/demo_world_baselines.py --world results/demo_world --fst 12
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from mcnn import config as mcnn_config
from mcnn.demo.writer import KEPT_AREA, run

THRESHOLDS = (0.5, 1.0, 2.0, 3.0)


def read_shot(root: Path, class_name: str, first: int, last: int):
    folder = root / "youtube_objects"
    frames = [
        cv2.imread(str(folder / class_name / f"{f:08d}.jpg"))[..., ::-1].copy()
        for f in range(first, last + 1)
    ]
    masks = np.stack(
        [
            cv2.imread(str(folder / "Masks" / class_name / f"{f:08d}.png"), 0) > 0
            for f in range(first, last + 1)
        ]
    )
    return frames, masks


def flows(frames: list[np.ndarray], method: str) -> np.ndarray:
    """Forward flow of each frame to the next (the last frame reuses the backward flow)."""
    gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    pairs = list(zip(gray[:-1], gray[1:], strict=True)) + [(gray[-1], gray[-2])]
    out = []
    for a, b in pairs:
        if method == "dis":
            out.append(dis.calc(a, b, None))
        else:
            out.append(cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0))
    return np.stack(out)


class Score:
    """Per-frame J and pooled intersection / union of one method."""

    def __init__(self) -> None:
        self.j: list[float] = []
        self.inter = self.union = 0

    def add(self, pred: np.ndarray, gt: np.ndarray) -> None:
        inter = (pred & gt).sum((1, 2))
        union = (pred | gt).sum((1, 2))
        self.j += np.where(union > 0, inter / np.maximum(union, 1), 1.0).tolist()
        self.inter += int(inter.sum())
        self.union += int(union.sum())

    def row(self) -> str:
        return f"J mean {np.mean(self.j):.3f}   pooled IoU {self.inter / max(self.union, 1):.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", type=Path, help="a written demo world (default: generate)")
    parser.add_argument("--params", default="{}", help="JSON overrides of demo_world")
    parser.add_argument("--fst", type=int, default=0, help="also run FST on N shots")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.world
        if root is None:
            params = mcnn_config.validate({"demo_world": json.loads(args.params)})["demo_world"]
            root = Path(tmp) / "world"
            start = time.perf_counter()
            run(params, root)
            print(f"generated in {time.perf_counter() - start:.1f} s")
        evaluate(root, args.fst)


def evaluate(root: Path, fst_shots: int) -> None:
    manifest = json.loads((root / "world.json").read_text())
    height, width = manifest["params"]["frame_height"], manifest["params"]["frame_width"]
    yy, xx = np.mgrid[0:height, 0:width]
    ellipse = ((xx - width / 2) / (width / 3)) ** 2 + ((yy - height / 2) / (height / 3)) ** 2 < 1
    scores: dict[str, Score] = {}
    areas = []
    shots = [(video, shot) for video in manifest["videos"] for shot in video["shots"]]
    # FST is slow: run it on `fst_shots` shots spread evenly over the world.
    fst_picks = set(np.linspace(0, len(shots) - 1, fst_shots).round().astype(int).tolist())
    for index, (video, shot) in enumerate(shots):
        with_fst = index in fst_picks
        frames, gt = read_shot(root, video["class"], shot["first_frame"], shot["last_frame"])
        areas += gt.mean((1, 2)).tolist()
        constant = {
            "all background": np.zeros_like(gt),
            "all object": np.ones_like(gt),
            "centred ellipse": np.broadcast_to(ellipse, gt.shape),
        }
        for name, pred in constant.items():
            scores.setdefault(name, Score()).add(pred, gt)
        for method in ("dis", "farneback"):
            flow = flows(frames, method)
            magnitude = np.linalg.norm(flow, axis=-1)
            median = np.median(flow.reshape(len(flow), -1, 2), axis=1)[:, None, None]
            relative = np.linalg.norm(flow - median, axis=-1)
            for t in THRESHOLDS:
                scores.setdefault(f"{method} |flow| > {t}", Score()).add(magnitude > t, gt)
                name = f"{method} |flow - median| > {t}"
                scores.setdefault(name, Score()).add(relative > t, gt)
                if method == "dis" and t == 1.0 and with_fst:
                    scores.setdefault(f"{name} (FST's shots)", Score()).add(relative > t, gt)
        if with_fst:
            scores.setdefault("FST (its shots)", Score()).add(fst_masks(frames, gt), gt)
    areas = np.array(areas)
    kept = np.mean((areas >= KEPT_AREA[0]) & (areas <= KEPT_AREA[1]))
    print(
        f"{len(areas)} frames; object area in 2.5-50 % of the frame: {100 * kept:.1f} %;"
        f" object absent: {100 * np.mean(areas == 0):.1f} %"
    )
    for name, score in scores.items():
        print(f"{name:32s} {score.row()}")


def fst_masks(frames: list[np.ndarray], gt: np.ndarray) -> np.ndarray:
    """FST (mcnn.motion.fst, default settings) masks at the ground truth's size."""
    from mcnn.motion.fst import segment_shot

    seg = segment_shot(frames, mcnn_config.validate({})["motion"], 0)
    size = (gt.shape[2], gt.shape[1])
    return np.stack(
        [
            cv2.resize(m.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
            for m in seg.masks
        ]
    )


if __name__ == "__main__":
    main()
