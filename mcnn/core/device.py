"""The device of a step run as a workflow job: the GPUs the job asked for, or a loud stop.

A rule that declares `gpu=N` passes `--gpus N --allow-cpu 0|1` (config `resources.allow_cpu`).
A job that asked for a GPU and sees no CUDA device stops with one line naming the job and the
devices it sees, unless the configuration allows the CPU explicitly: a training that silently
ran for a day on the CPU of a GPU node is worse than a failed job.
"""

from __future__ import annotations

import logging
import os

import torch

from mcnn.core.io import DataError

log = logging.getLogger(__name__)


def add_arguments(parser) -> None:
    """`--gpus` and `--allow-cpu`, as the rules that declare `gpu=` pass them."""
    parser.add_argument(
        "--gpus",
        type=int,
        help="GPUs the job asked the scheduler for (0: run on the CPU); without it, --device",
    )
    parser.add_argument(
        "--allow-cpu",
        type=int,
        choices=(0, 1),
        default=0,
        help="1: a job that asked for a GPU and sees none runs on the CPU instead of stopping",
    )


def visible_devices() -> str:
    """What this process sees, for the message: CUDA_VISIBLE_DEVICES and torch's count."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    shown = "unset" if visible is None else repr(visible)
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return f"CUDA_VISIBLE_DEVICES={shown}, {count} CUDA device(s) visible to torch"


def job_device(
    job: str, output, gpus: int | None, allow_cpu: bool, requested: str | None
) -> str | None:
    """The device a step runs on: `requested` (its --device) when no GPU count is given,
    else "cuda" for a job that asked for GPUs (DataError naming `job` and `output` when none is
    visible and the CPU is not allowed) and "cpu" for a job that asked for none."""
    if gpus is None:
        return requested
    if gpus == 0:
        return "cpu"
    if torch.cuda.is_available():
        return "cuda"
    slurm = os.environ.get("SLURM_JOB_ID")
    name = f"{job} job" + (f" (Slurm job {slurm})" if slurm else "")
    if allow_cpu:
        log.warning("%s asked for %d GPU(s) but sees none (%s): on the CPU, as resources.allow_cpu "
                    "allows", name, gpus, visible_devices())  # fmt: skip
        return "cpu"
    raise DataError(
        output,
        f"{name} asked for {gpus} GPU(s) but sees no CUDA device ({visible_devices()}); "
        "set resources.allow_cpu: true to run GPU jobs on the CPU",
    )
