"""FST motion segmentation of one video's shots -> results/motion/<dataset>/<video>.h5."""

from __future__ import annotations

import json
import os


def add_arguments(parser) -> None:
    parser.add_argument("--index", required=True, help="shot table (<dataset>.shots.csv)")
    parser.add_argument("--video", required=True, help="video_id whose shots are segmented")
    parser.add_argument("--params", required=True, help="JSON: the validated config['motion']")
    parser.add_argument("--output", required=True, help="per-video motion HDF5 to write")
    parser.add_argument("--seed", type=int, default=0, help="seed of the colour-model fits")


def main(args) -> None:
    import cv2

    from mcnn.motion.video import run

    # OpenCV keeps a thread per core whatever the job was given; on the threads Snakemake gives
    # the rule (OMP_NUM_THREADS) DIS spends ~10 % less CPU time for the same flow.
    if "OMP_NUM_THREADS" in os.environ:
        cv2.setNumThreads(int(os.environ["OMP_NUM_THREADS"]))
    run(args.index, args.video, json.loads(args.params), args.output, args.seed)
