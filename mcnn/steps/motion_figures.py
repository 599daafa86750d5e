"""Figure of the FST stages of one video -> results/figures/motion/<dataset>/<video>.png."""

from __future__ import annotations

import json


def add_arguments(parser) -> None:
    parser.add_argument("--index", required=True, help="shot table (<dataset>.shots.csv)")
    parser.add_argument("--video", required=True, help="video_id whose longest shot is drawn")
    parser.add_argument("--params", required=True, help="JSON: the validated config['motion']")
    parser.add_argument("--frames", type=int, default=4, help="number of sampled frames (rows)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the colour-model fits")
    parser.add_argument("--output", required=True, help="PNG file to write")


def main(args) -> None:
    from mcnn.motion.figures import run

    run(args.index, args.video, json.loads(args.params), args.frames, args.seed, args.output)
