"""Where the motion stage fails, stage by stage, on real sequences that show each failure mode
of issue #32 (docs/motion_failures.md).

For each sequence of `CASES` and each motion setting of `--settings` (overrides of the
defaults, as `--params` of motion_quality.py): FST with every stage kept, and per stage how it
compares with the ground truth on the annotated frames (first and last left out, at FST's
working size): the inside-outside maps (recall: share of the object they call inside;
precision: share of what they call inside that is the object), the location prior above 0.5,
the colour models' p(fg) above 0.5, the final mask (J), and which flow the choice kept against
the J each flow's segmentation would have had. With `--figures DIR`: the stage figure of
mcnn.motion.figures (the motion-figures step's) of the first case of each mode with the first
setting, shrunk, as JPEG (four of ~50-80 KB).

    python benchmarks/motion_failures.py                                  # table, defaults
    python benchmarks/motion_failures.py --figures docs/img/motion \\
        --settings '{}' '{"fst": {"gap_flow": 3}}'
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import motion_quality as mq  # noqa: E402

from mcnn import config as mcnn_config  # noqa: E402
from mcnn.metrics.davis import region_similarity  # noqa: E402
from mcnn.motion.figures import draw_stages  # noqa: E402
from mcnn.motion.flow import resize_to_max_side  # noqa: E402
from mcnn.motion.fst import flow_settings, segment_shot  # noqa: E402

# Failure modes of issue #32 (seen on DAVIS-2016 val) and the training sequences in
# ../shared/data that show the same mode, chosen by what the sequences show, before scoring.
CASES = [
    ("slow, articulated motion, moving camera", "davis", "flamingo"),
    ("slow, articulated motion, moving camera", "davis", "bear"),
    ("object moving in place", "davis", "mallard-water"),
    ("object moving in place", "davis", "boat"),
    ("thin occluders", "davis", "dog-agility"),
    ("thin occluders", "davis", "horsejump-low"),
    ("several objects of one class", "davis", "train"),
    ("several objects of one class", "davis", "scooter-gray"),
]
FIGURE_ROWS = 3  # annotated frames per figure
FIGURE_SCALE = 0.4  # of the figure at FST's working size (8 columns of 400 px)
JPEG_QUALITY = 70  # a figure ~50-80 KB, all of them a few hundred KB in the repository


def load(dataset: str, name: str) -> mq.Sequence:
    for found, loader in mq.READERS[dataset](mq.DATA):
        if found == name:
            return loader()
    raise FileNotFoundError(f"{dataset}/{name} under {mq.DATA}")


def stage_scores(seq: mq.Sequence, seg) -> dict[str, float]:
    """Per-stage agreement with the ground truth, mean over the evaluated frames."""
    st = seg.stages
    h, w = seg.masks.shape[1:]
    rows = []
    for t in seq.evaluated:
        gt = cv2.resize(seq.masks[t].astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
        inside = st.inside[t]
        labels = st.superpixels.labels[t]
        rows.append(
            {
                "inside recall": (inside & gt).sum() / max(gt.sum(), 1),
                "inside precision": (inside & gt).sum() / max(inside.sum(), 1),
                "J location>0.5": region_similarity(st.location[labels] > 0.5, gt),
                "J p(fg)>0.5": region_similarity(st.appearance[labels] > 0.5, gt),
                "J mask": region_similarity(seg.masks[t], gt),
            }
        )
    result = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    if seg.alternatives is not None and len(seg.alternatives) > 1:
        per_flow = [mq.scores(m, seq)["J"] for m in seg.alternatives]
        result["flow kept"] = "AB"[seg.flow] if seg.flow < 2 else str(seg.flow)
        result["J per flow"] = " / ".join(f"{j:.2f}" for j in per_flow)
    return result


def figure(seq: mq.Sequence, seg, motion: dict) -> np.ndarray:
    small = [resize_to_max_side(f, motion["flow"]["max_side"]) for f in seq.frames]
    picks = np.linspace(0, len(seq.evaluated) - 1, min(FIGURE_ROWS, len(seq.evaluated)))
    indices = [seq.evaluated[int(round(i))] for i in picks]
    truth = {t: seq.masks[t] for t in indices}
    image = draw_stages(small, seg, motion, indices, truth)
    return cv2.resize(image, None, fx=FIGURE_SCALE, fy=FIGURE_SCALE, interpolation=cv2.INTER_AREA)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", nargs="+", default=["{}"], help="JSON motion overrides")
    parser.add_argument("--sequences", nargs="+", help="only these of CASES")
    parser.add_argument("--figures", type=Path, help="write <DIR>/<sequence>.jpg (first setting)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    motions = [mcnn_config.validate({"motion": json.loads(s)})["motion"] for s in args.settings]
    print("| mode | sequence | setting | inside recall | inside precision | J location>0.5 "
          "| J p(fg)>0.5 | J mask | flow kept | J per flow (A / B) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    drawn = set()  # modes with a figure
    for mode, dataset, name in CASES:
        if args.sequences and name not in args.sequences:
            continue
        seq = load(dataset, name)
        for text, motion in zip(args.settings, motions, strict=True):
            flows = [mq.cached_flows(seq, cfg)[:2] for cfg in flow_settings(motion)]
            seg = segment_shot(
                seq.frames, motion, args.seed, name, flows, keep_stages=True, keep_alternatives=True
            )
            s = stage_scores(seq, seg)
            print(
                f"| {mode} | {name} | `{text}` | "
                + " | ".join(f"{s[k]:.2f}" for k in list(s)[:5])
                + f" | {s.get('flow kept', '-')} | {s.get('J per flow', '-')} |",
                flush=True,
            )
            if args.figures and motion is motions[0] and mode not in drawn:
                drawn.add(mode)
                args.figures.mkdir(parents=True, exist_ok=True)
                path = args.figures / f"{name}.jpg"
                image = cv2.cvtColor(figure(seq, seg, motion), cv2.COLOR_RGB2BGR)
                cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])


if __name__ == "__main__":
    main()
