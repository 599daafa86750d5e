"""Label inference against cv2.grabCut on real DAVIS 2016 frames with the project's FST masks.

Per sequence, FST (mcnn.motion.fst, the motion stage's settings) segments the first 40 frames
once (cached under --cache); the batch is every 4th frame (10), squashed to 321 x 321 as the
training crop. The network scores are those of an untrained network (`--checkpoint` for a
trained one, `--uniform` for flat 1/K scores) at its output stride, as at the start of training.
Label inference runs on the same frames

- at the resolution the loss uses (ceil(321 / label_stride) = 41 px a side, what training does),
  labels upsampled to 321 for the IoU, and
- at the full 321 x 321 (`--full`): coarse to fine as by default (`labels.coarse_side` 161:
  the search at 161 px, then refined at 321 px near the outlines) and the whole search at
  321 px (coarse_side 0), with the paired change of IoU between the two,
- at further sides (`--sides 81 161`), as training would with another label stride,

with one tag (the video's) and two tags (the video's and a second class on the same video),
beside cv2.grabCut (4 iterations, mask initialisation, 321 x 321) in the same run. Printed per
method: ms/frame, ratio to grabCut, mean IoU with the ground truth (at 321 px, and on the loss's
41-px grid), mean accepted iterations per frame, share of frames that fell back to the motion
mask, and whether a second run gives the same labels.

    python benchmarks/label_speed.py [--data ../shared/data/davis2016] [--sequences boat ...]
        [--full] [--sides ...] [--checkpoint model.pt | --uniform] [--labels '{"iterations": 4}']
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from mcnn.config import validate
from mcnn.core.io import read_gray, read_rgb
from mcnn.labels import infer_mcnn

SIZE = 321
SHOT_FRAMES, STEP = 40, 4
CLASSES = validate({})["classes"]


def load_sequence(root: Path, sequence: str) -> tuple[list[np.ndarray], np.ndarray]:
    """The first SHOT_FRAMES frames (original size) and the batch's ground truth at SIZE."""
    paths = sorted((root / "JPEGImages" / "480p" / sequence).glob("*.jpg"))[:SHOT_FRAMES]
    if len(paths) < SHOT_FRAMES:
        raise SystemExit(f"{root}/JPEGImages/480p/{sequence}: fewer than {SHOT_FRAMES} frames")
    frames = [read_rgb(p) for p in paths]
    truth = np.stack(
        [
            cv2.resize(
                read_gray(root / "Annotations" / "480p" / sequence / f"{p.stem}.png"),
                (SIZE, SIZE),
                interpolation=cv2.INTER_NEAREST,
            )
            > 0
            for p in paths[::STEP]
        ]
    )
    return frames, truth


def fst_masks(frames: list[np.ndarray], sequence: str, cache: Path) -> np.ndarray:
    """FST masks of the shot (computed once, cached per motion settings), every STEP-th frame."""
    from mcnn.motion.fst import segment_shot

    motion_cfg = validate({})["motion"]
    key = hashlib.sha1(json.dumps(motion_cfg, sort_keys=True).encode()).hexdigest()[:12]
    path = cache / key / f"{sequence}.npz"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        masks = segment_shot(frames, motion_cfg, seed=0, name=sequence).masks
        np.savez_compressed(path, masks=masks)
    masks = np.load(path)["masks"][::STEP].astype(np.uint8)
    return np.stack([cv2.resize(m, (SIZE, SIZE), interpolation=cv2.INTER_NEAREST) for m in masks])


def network_probs(frames: np.ndarray, checkpoint: Path | None, uniform: bool) -> np.ndarray:
    """Softmax (B, K, 41, 41) of the network at its output stride (`uniform`: 1/K everywhere)."""
    from mcnn.models import build_model, load_model

    if uniform:
        side = math.ceil(SIZE / 8)
        return np.full(
            (len(frames), 1 + len(CLASSES), side, side), 1 / (1 + len(CLASSES)), np.float32
        )
    if checkpoint is None:
        torch.manual_seed(0)
        model_cfg = {**validate({})["train"]["model"], "backbone": "compact"}
        net = build_model(model_cfg, 1 + len(CLASSES))
    else:
        net, _ = load_model(checkpoint)
    net.eval()
    with torch.no_grad():
        images = torch.from_numpy(frames).permute(0, 3, 1, 2).float().div(255)
        return torch.softmax(net(images).float(), 1).numpy()


def resize_probs(probs: np.ndarray, side: int) -> np.ndarray:
    tensor = torch.from_numpy(probs)
    if tensor.shape[-1] != side:
        tensor = torch.nn.functional.interpolate(
            tensor, size=(side, side), mode="bilinear", align_corners=False
        )
    return tensor.numpy()


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def grabcut(frames: np.ndarray, motion: np.ndarray, iterations: int) -> np.ndarray:
    """cv2.grabCut of each RGB frame initialised with its motion mask (object = probably
    foreground); a mask with no pixel on one side is its own result (grabCut needs both)."""
    out = []
    for frame, mask in zip(frames, motion, strict=True):
        if mask.all() or not mask.any():
            out.append(mask > 0)
            continue
        gc_mask = np.where(mask > 0, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
        bgd, fgd = np.zeros((1, 65)), np.zeros((1, 65))
        bgr = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
        cv2.grabCut(bgr, gc_mask, None, bgd, fgd, iterations, cv2.GC_INIT_WITH_MASK)
        out.append((gc_mask == cv2.GC_FGD) | (gc_mask == cv2.GC_PR_FGD))
    return np.stack(out)


class Method:
    """Accumulated time, IoU and iteration statistics of one method over all batches.

    IoU with the ground truth is taken twice: at SIZE (labels upsampled) and on the grid the
    loss uses (`loss_side`; labels and ground truth sampled down to it), which is what
    training sees of the labels whatever resolution they were inferred at.
    """

    def __init__(self, name: str, loss_side: int):
        self.name, self.seconds, self.frames = name, 0.0, 0
        self.loss_side = loss_side
        self.ious: list[float] = []
        self.loss_ious: list[float] = []
        self.accepted: list[int] = []
        self.fell_back: list[bool] = []
        self.identical = True

    def add(self, seconds: float, masks: np.ndarray, truth: np.ndarray) -> None:
        self.seconds += seconds
        self.frames += len(masks)
        up = [cv2.resize(m.astype(np.uint8), (SIZE, SIZE), interpolation=cv2.INTER_NEAREST) > 0
              for m in masks]  # fmt: skip
        self.ious += [iou(m, t) for m, t in zip(up, truth, strict=True)]
        side = self.loss_side
        down = small(np.asarray(masks, np.uint8), side, cv2.INTER_NEAREST) > 0
        coarse_truth = small(truth.astype(np.uint8), side, cv2.INTER_NEAREST) > 0
        self.loss_ious += [iou(m, t) for m, t in zip(down, coarse_truth, strict=True)]

    @property
    def ms(self) -> float:
        return 1000 * self.seconds / max(self.frames, 1)


def run_mcnn(method: Method, frames, motion, probs, tags, cfg, truth) -> None:
    def infer():
        return infer_mcnn(frames, motion, probs, tags, cfg, cfg["alpha"], np.random.default_rng(1))

    start = time.perf_counter()
    result = infer()
    method.add(time.perf_counter() - start, result.labels > 0, truth)
    method.accepted += result.accepted.tolist()
    method.fell_back += result.fell_back.tolist()
    method.identical &= np.array_equal(result.labels, infer().labels)


def small(images: np.ndarray, side: int, interpolation: int) -> np.ndarray:
    return np.stack([cv2.resize(i, (side, side), interpolation=interpolation) for i in images])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    repo = Path(__file__).resolve().parents[1]
    parser.add_argument("--data", type=Path, default=repo.parent / "shared" / "data" / "davis2016")
    parser.add_argument(
        "--sequences",
        nargs="+",
        default=["boat", "car-turn", "flamingo", "horsejump-low", "motorbike", "train"],
    )
    parser.add_argument("--cache", type=Path, default=repo / "results" / "bench" / "label_fst")
    parser.add_argument("--checkpoint", type=Path, help="network checkpoint (default: untrained)")
    parser.add_argument(
        "--uniform", action="store_true", help="flat network scores (1/K) instead of a network's"
    )
    parser.add_argument("--full", action="store_true", help="also infer at the full 321 x 321")
    parser.add_argument(
        "--sides", nargs="+", type=int, default=[], help="also infer at these sides (e.g. 81 161)"
    )
    parser.add_argument("--labels", default="{}", help="JSON overrides of the labels section")
    parser.add_argument(
        "--coarse-side", type=int, default=161, help="coarse side compared where the default is 0"
    )
    args = parser.parse_args()
    if not args.data.is_dir():
        raise SystemExit(f"{args.data}: DAVIS 2016 not found (pass --data)")
    config = validate({"labels": json.loads(args.labels)})
    cfg = config["labels"]
    side = math.ceil(SIZE / config["train"]["train"]["label_stride"])
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    sizes = sorted({side, *args.sides, *([SIZE] if args.full else [])})
    methods = {
        "motion": Method("FST motion mask", side),
        "grabcut": Method("cv2.grabCut 321 px", side),
    }
    # At 321 px the default search runs coarse to fine (labels.coarse_side); --full runs the
    # whole search at full size beside it (or coarse to fine beside a full-size default).
    runs = [(s, cfg) for s in sizes]
    if args.full:
        runs.append((SIZE, {**cfg, "coarse_side": 0 if cfg["coarse_side"] else args.coarse_side}))
    for s, run_cfg in runs:
        for n in (1, 2):
            name = f"M-CNN {n} tag{'s' * (n > 1)} {s} px"
            if 0 < run_cfg["coarse_side"] < s:
                name += f" via {run_cfg['coarse_side']}"
            methods[(s, n, run_cfg["coarse_side"])] = Method(name, side)
    labels_of = {row.split(",")[0]: row.split(",")[1] for row in
                 (args.data / "video_labels.csv").read_text().split()[1:]}  # fmt: skip
    for sequence in args.sequences:
        shot, truth = load_sequence(args.data, sequence)
        frames = np.stack([cv2.resize(f, (SIZE, SIZE), interpolation=cv2.INTER_AREA)
                           for f in shot[::STEP]])  # fmt: skip
        motion = fst_masks(shot, sequence, args.cache)
        probs = network_probs(frames, args.checkpoint, args.uniform)
        tag = CLASSES.index(labels_of[sequence]) + 1 if labels_of[sequence] in CLASSES else 1
        second = 1 + (tag % len(CLASSES))
        methods["motion"].add(0.0, motion > 0, truth)
        start = time.perf_counter()
        cut = grabcut(frames, motion, cfg["iterations"])
        methods["grabcut"].add(time.perf_counter() - start, cut, truth)
        for s, run_cfg in runs:
            batch = (
                (frames, motion)
                if s == SIZE
                else (small(frames, s, cv2.INTER_AREA), small(motion, s, cv2.INTER_NEAREST))
            )
            for n, tags in ((1, [tag]), (2, [tag, second])):
                method = methods[(s, n, run_cfg["coarse_side"])]
                run_mcnn(method, *batch, resize_probs(probs, s), tags, run_cfg, truth)
        print(f"{sequence}: done", flush=True)
    n_frames = methods["grabcut"].frames
    network = "uniform (1/K)" if args.uniform else args.checkpoint or "an untrained compact network"
    print(
        f"\n{n_frames} frames of {len(args.sequences)} DAVIS sequences, {SIZE} x {SIZE}, FST masks,"
        f" scores of {network}, alpha {cfg['alpha']}"
    )
    reference = methods["grabcut"].ms
    loss_iou = f"IoU@{side}"
    header = f"{'method':<26}{'ms/frame':>10}{'/ grabCut':>11}{'IoU':>7}{loss_iou:>9}"
    header += f"{'accepted':>10}"
    print(header + f"{'fallback':>10}{'repeatable':>12}")
    for method in methods.values():
        line = f"{method.name:<26}"
        if method.name.startswith("FST"):
            line += f"{'-':>10}{'-':>11}"
        else:
            line += f"{method.ms:>10.1f}{method.ms / reference:>11.2f}"
        line += f"{np.mean(method.ious):>7.3f}{np.mean(method.loss_ious):>9.3f}"
        if method.accepted:
            line += f"{np.mean(method.accepted):>10.2f}{np.mean(method.fell_back):>10.2f}"
            line += f"{str(method.identical):>12}"
        print(line)
    coarse = cfg["coarse_side"] or args.coarse_side
    for n in (1, 2):
        fine, full = methods.get((SIZE, n, coarse)), methods.get((SIZE, n, 0))
        if fine and full:  # paired over frames: is the coarse-to-fine IoU change beyond noise?
            change = np.subtract(fine.ious, full.ious)
            error = change.std(ddof=1) / np.sqrt(len(change))
            print(
                f"{n} tag{'s' * (n > 1)}: IoU via {coarse} minus full search {change.mean():+.4f}"
                f" +- {error:.4f} (standard error over {len(change)} frames)"
            )


if __name__ == "__main__":
    main()
