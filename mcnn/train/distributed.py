"""Process group and device of a training run (one process, or one per GPU under torchrun)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from mcnn import predict


@dataclass
class Distributed:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device: str) -> Distributed:
    """Join the torchrun process group when launched by torchrun (WORLD_SIZE > 1)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Distributed()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    return Distributed(dist.get_rank(), world_size, int(os.environ.get("LOCAL_RANK", "0")))


def pick_device(requested: str, ddp: Distributed) -> torch.device:
    """The training device: "auto" = CUDA when a GPU is visible; "cuda" without one stops
    (`mcnn.predict.pick_device`); plain "cuda" is this process's GPU under torchrun."""
    device = predict.pick_device(None if requested == "auto" else requested)
    if device.type == "cuda" and device.index is None:
        torch.cuda.set_device(ddp.local_rank)
        return torch.device("cuda", ddp.local_rank)
    return device
