"""Motion stage speed per workflow job, start-up included, beside flow + FST alone.

Frames per CPU-second on real 854 x 480 DAVIS 2016 sequences, one thread, with the motion
settings of the schema's defaults (`--params` overrides them):

- "job": `python -m mcnn motion-segment` on a one-row shot table, in a fresh process, as the
  workflow's rule runs it. Its CPU time (user + system of the child) covers interpreter start-up,
  imports, decoding the frames, flow, FST and writing the motion HDF5.
- "flow + FST": the same shot in this process, `mcnn.motion.fst.segment_shot` alone on frames
  decoded beforehand (what benchmarks/motion_quality.py times), split into its stages in
  milliseconds per frame: the flows (all of `flow_settings`, forward and backward), the SLIC
  superpixels (built once more on their own to time them) and the rest of FST (inside-outside
  maps, location prior, colour models, min-cut, choice); "start-up" is the job's CPU time
  beyond flow + FST (interpreter, imports, decoding, HDF5).

The job's masks are checked equal to the in-process ones (same per-shot seed). Python writes no
bytecode in the child when PYTHONDONTWRITEBYTECODE is set; `make install` writes the bytecode
of what the steps import, so that such a job does not compile its imports again.

    python benchmarks/motion_speed.py [--sequences bear boat ...] [--params '{"flow": {...}}']
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # the motion rule's `threads: 1`, as Snakemake sets

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import zlib  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from mcnn import config as mcnn_config  # noqa: E402
from mcnn.datasets import build_index  # noqa: E402
from mcnn.datasets.frames import read_frames  # noqa: E402
from mcnn.motion.flow import resize_to_max_side, shot_flows  # noqa: E402
from mcnn.motion.fst import flow_settings, segment_shot  # noqa: E402
from mcnn.motion.store import read_video_motion  # noqa: E402
from mcnn.motion.superpixels import build_superpixels  # noqa: E402

DAVIS = Path(__file__).resolve().parents[2] / "shared" / "data" / "davis2016"
TARGET = 6.0  # frames per CPU-second per job, start-up included (issue #31)
cv2.setNumThreads(int(os.environ["OMP_NUM_THREADS"]))  # as the job does


def child_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_job(row: dict, params: dict, folder: Path) -> tuple[float, np.ndarray]:
    """CPU seconds of the motion step run as a workflow job on `row`, and its masks."""
    index = folder / f"{row['video_id']}.shots.csv"
    pd.DataFrame([row]).to_csv(index, index=False)
    output = folder / f"{row['video_id']}.h5"
    before = child_cpu_seconds()
    subprocess.run(
        [sys.executable, "-m", "mcnn", "motion-segment", "--index", str(index), "--video",
         str(row["video_id"]), "--params", json.dumps(params), "--output", str(output)],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    seconds = child_cpu_seconds() - before
    return seconds, read_video_motion(output)[row["shot_id"]].masks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DAVIS)
    parser.add_argument("--sequences", nargs="+", help="default: every sequence")
    parser.add_argument("--params", default="{}", help="JSON overrides of the motion section")
    args = parser.parse_args()
    if not args.data.is_dir():
        raise SystemExit(f"{args.data}: DAVIS 2016 not found (pass --data)")
    config = mcnn_config.validate(
        {"motion": json.loads(args.params), "datasets": {"davis": {"kind": "davis2016",
                                                                   "root": str(args.data)}}}
    )  # fmt: skip
    params = config["motion"]
    shots = build_index("davis", config["datasets"]["davis"], config["classes"]).shots
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.sequences:
            shots = shots[shots["video_id"].isin(args.sequences)]
        same_masks, totals = [], np.zeros(6)
        print(f"{'sequence':<18}{'frames':>7}{'job CPU-s':>11}{'FST CPU-s':>11}"
              f"{'job f/CPU-s':>13}{'FST f/CPU-s':>13}   ms/frame: {'flow':>6}{'SLIC':>6}"
              f"{'rest':>6}{'start-up':>9}  same masks")  # fmt: skip
        for row in shots.to_dict("records"):
            _, frames = read_frames(row)
            frames = [resize_to_max_side(f, params["flow"]["max_side"]) for f in frames]
            start = time.process_time()
            flows = [shot_flows(frames, flow_cfg) for flow_cfg in flow_settings(params)]
            flow = time.process_time() - start
            start = time.process_time()
            build_superpixels(frames, params["fst"])
            slic = time.process_time() - start
            start = time.process_time()
            seed = zlib.crc32(f"0:{row['shot_id']}".encode())
            seg = segment_shot(frames, params, seed, flows=flows)
            fst = flow + time.process_time() - start
            job, masks = run_job(row, params, folder)
            n = len(frames)
            stages = np.array([flow, slic, fst - flow - slic, job - fst])
            totals += (n, job, fst, *stages[:3])
            same = np.array_equal(masks, seg.masks.astype(np.uint8))
            same_masks.append(same)
            ms = "".join(f"{v:>6.0f}" for v in 1000 * stages[:3] / n)
            print(f"{row['video_id']:<18}{n:>7}{job:>11.1f}{fst:>11.1f}{n / job:>13.2f}"
                  f"{n / fst:>13.2f}             {ms}{1000 * stages[3] / n:>9.0f}  {same}",
                  flush=True)  # fmt: skip
    n, job, fst, flow, slic, rest = totals
    print(
        f"\nall {len(same_masks)} sequences, {int(n)} frames: job {n / job:.2f} frames per "
        f"CPU-second (start-up included; {n / job / TARGET:.2f} x the target {TARGET:g}), "
        f"flow + FST alone {n / fst:.2f}; ms per frame: flow {1000 * flow / n:.0f}, SLIC "
        f"{1000 * slic / n:.0f}, rest of FST {1000 * rest / n:.0f}, start-up and I/O "
        f"{1000 * (job - fst) / n:.0f} ({1 - fst / job:.0%} of the job's CPU time); "
        f"masks identical in {sum(same_masks)} of {len(same_masks)}; "
        f"PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', 'unset')}"
    )


if __name__ == "__main__":
    main()
