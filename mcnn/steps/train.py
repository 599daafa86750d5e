"""Train M-CNN (or fine-tune it on selected shots, or train on selected shots + tagged images).

The stage follows from the inputs: `--images` -> mixed training (paper 4.4), `--shots` ->
fine-tuning (3.3), otherwise the first training on all shots. With `--gpus N` > 1 it starts
itself again under `torchrun --nproc_per_node N` (one DDP process per GPU). Writes
DIR/model.pt, DIR/loss.csv, DIR/loss.png, DIR/train.json; an interrupted run started again with
the same arguments resumes from DIR/checkpoint.pt (a finished run removes it).
"""

from __future__ import annotations

import json
import logging
import os
import sys

from mcnn.core import device
from mcnn.train import train as run_training
from mcnn.train.run import TERMINATED_EXIT, TrainingStopped

log = logging.getLogger(__name__)


def add_arguments(parser) -> None:
    parser.add_argument("--samples", nargs="+", required=True, help="training samples HDF5 files")
    parser.add_argument("--params", required=True, help="config['train'] as JSON")
    # Settings that change only the speed: outside --params and outside the run's identity.
    parser.add_argument("--label-workers", type=int, help="train.train.label_workers")
    parser.add_argument("--checkpoint-every", type=int, help="train.train.checkpoint_every")
    device.add_arguments(parser)  # --gpus N > 1: one process per GPU under torchrun
    parser.add_argument("--label-params", required=True, help="config['labels'] as JSON")
    parser.add_argument("--classes", required=True, help="config['classes'] as JSON")
    parser.add_argument(
        "--strategy",
        required=True,
        choices=["mcnn", "hard", "em_adapt"],
        help="latent-label strategy for the video frames",
    )
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--init", help="checkpoint to start from (fine-tuning, mixed training)")
    parser.add_argument("--shots", help="select-shots table: train on its selected shots only")
    parser.add_argument("--images", help="shot index CSV of tagged images (mixed training)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--output-dir", required=True)


def main(args) -> None:
    on = device.job_device("train", args.output_dir, args.gpus, args.allow_cpu, args.device)
    if (args.gpus or 1) > 1 and "LOCAL_RANK" not in os.environ:
        os.execv(sys.executable, torchrun_command(args.gpus, sys.argv[1:]))
    execution = {"label_workers": args.label_workers, "checkpoint_every": args.checkpoint_every}
    try:
        run_training(
            args.samples,
            json.loads(args.params),
            json.loads(args.label_params),
            json.loads(args.classes),
            args.strategy,
            args.seed,
            args.output_dir,
            init=args.init,
            shots_table=args.shots,
            image_index=args.images,
            device=on,
            execution={key: value for key, value in execution.items() if value is not None},
        )
    except TrainingStopped as stopped:
        log.error("%s", stopped)
        sys.exit(TERMINATED_EXIT)


def torchrun_command(gpus: int, step_argv: list[str]) -> list[str]:
    """This step again under torchrun: one process per GPU on this node (DDP)."""
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    return [*launcher, f"--nproc_per_node={gpus}", "-m", "mcnn", *step_argv]
