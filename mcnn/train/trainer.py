"""One training run's state and SGD step: forward, latent labels, weighted loss (1), backward.

With `label_prefetch` = d > 0, batches t..t+d are queued ahead: each is predicted (no-grad, eval
mode) with the weights current when it is queued and its labels are inferred in a worker while the
main process trains on earlier batches, so labels are at most d SGD steps old. With d = 0 the
labels come from the training forward pass itself and the step waits for them (the paper's exact
scheme). The queue never reaches past the next checkpoint, so a resumed run sees exactly the
batches and labels of an uninterrupted one.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F

from mcnn.models import unwrap
from mcnn.train.data import Batch, TrainingData
from mcnn.train.distributed import Distributed
from mcnn.train.label_pool import LabelPool
from mcnn.train.label_quality import batch_quality
from mcnn.train.schedule import StageSchedule, make_optimizer

log = logging.getLogger(__name__)

VOID = 255


class TrainingError(RuntimeError):
    """Training cannot go on (e.g. a non-finite loss); the message names iteration and batch."""


def to_input(frames: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 (B, H, W, 3) -> float (B, 3, H, W) in [0, 1] on `device`."""
    tensor = torch.from_numpy(frames).to(device, non_blocking=True)
    return tensor.permute(0, 3, 1, 2).float().div_(255)


def logits_at(logits: torch.Tensor, side: int) -> torch.Tensor:
    if logits.shape[-2:] == (side, side):
        return logits
    return F.interpolate(logits, size=(side, side), mode="bilinear", align_corners=False)


class Trainer:
    """State and step of one training run; `train()` is the entry point."""

    def __init__(
        self,
        model,
        data: TrainingData,
        params: dict,
        schedule: StageSchedule,
        labels_cfg: dict,
        strategy: str,
        seed: int,
        device: torch.device,
        ddp: Distributed,
    ):
        self.model, self.data, self.params = model, data, params
        self.schedule, self.strategy, self.seed = schedule, strategy, seed
        self.device, self.ddp = device, ddp
        cfg = params["train"]
        self.prefetch = cfg["label_prefetch"]
        self.checkpoint_every = cfg["checkpoint_every"]
        self.optimizer, self.scheduler = make_optimizer(model, params["sgd"], schedule.lr_step)
        amp = cfg["amp"] and device.type == "cuda"
        self.amp_dtype = getattr(torch, cfg["amp_dtype"]) if amp else None
        self.scaler = torch.amp.GradScaler("cuda", enabled=amp and cfg["amp_dtype"] == "float16")
        self.class_weights = torch.from_numpy(data.class_weights()).to(device)
        self.labels = LabelPool(cfg["label_workers"], labels_cfg)
        self.iteration = 0
        self.history: list[dict] = []

    # -- one step

    @torch.no_grad()
    def _predict_probs(self, batch: Batch) -> np.ndarray:
        net = unwrap(self.model)
        net.eval()
        try:
            logits = self._forward(net, to_input(batch.frames, self.device))
        finally:
            net.train()
        return self._probs(logits)

    def _forward(self, net, images: torch.Tensor) -> torch.Tensor:
        with torch.autocast(
            self.device.type,
            dtype=self.amp_dtype or torch.float32,
            enabled=self.amp_dtype is not None,
        ):
            return net(images)

    def _probs(self, logits: torch.Tensor) -> np.ndarray:
        small = logits_at(logits.detach().float(), self.data.label_side)
        return torch.softmax(small, dim=1).cpu().numpy()

    def _global_index(self, iteration: int) -> int:
        return iteration * self.ddp.world_size + self.ddp.rank

    def _queue(self, pending: dict, iteration: int) -> None:
        batch = self.data.batch(self._global_index(iteration), self.seed, self.strategy)
        alpha = self.schedule.alpha_at(iteration)
        pending[iteration] = (batch, self.labels.submit(batch, self._predict_probs(batch), alpha))

    def _fill_queue(self, pending: dict) -> None:
        """Queue batches iteration..iteration+prefetch, never past the next checkpoint."""
        boundary = (self.iteration // self.checkpoint_every + 1) * self.checkpoint_every
        last = min(self.iteration + self.prefetch, boundary - 1, self.schedule.iterations - 1)
        for ahead in range(self.iteration, last + 1):
            if ahead not in pending:
                self._queue(pending, ahead)

    def step(self, pending: dict) -> dict:
        start = time.perf_counter()
        wait_before = self.labels.wait_seconds
        if self.prefetch > 0:
            self._fill_queue(pending)
            batch, job = pending.pop(self.iteration)
            logits = self._forward(self.model, to_input(batch.frames, self.device))
            labels, search = self.labels.result(job)
        else:
            batch = self.data.batch(self._global_index(self.iteration), self.seed, self.strategy)
            logits = self._forward(self.model, to_input(batch.frames, self.device))
            alpha = self.schedule.alpha_at(self.iteration)
            labels, search = self.labels.result(
                self.labels.submit(batch, self._probs(logits), alpha)
            )
        loss = training_loss(
            logits,
            torch.from_numpy(labels).to(self.device),
            self.class_weights,
            self.data.label_side,
        )
        self._check_finite(loss, batch.key)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        lr = self.optimizer.param_groups[0]["lr"]
        self.scheduler.step()
        self.iteration += 1
        row = {
            "iteration": self.iteration,
            "loss": self._mean_over_processes(loss.detach()),
            "lr": lr,
            "label_wait_s": self.labels.wait_seconds - wait_before,
            "step_s": time.perf_counter() - start,
            "frames": len(batch.frames),
            "batch": batch.key,
            **search,
            **batch_quality(labels, batch),
        }
        if search["fell_back"]:
            log.info(
                "iteration %d, batch %s: %d of %d frames fell back to their motion masks",
                self.iteration,
                batch.key,
                search["fell_back"],
                search["searched"],
            )
        self.history.append(row)
        return row

    def _check_finite(self, loss: torch.Tensor, key: str) -> None:
        bad = (~torch.isfinite(loss.detach())).float().reshape(1)
        if self.ddp.active:
            # Every process must stop together, or the others would hang in the gradient all-reduce.
            bad_anywhere = bad.clone()
            dist.all_reduce(bad_anywhere)
        else:
            bad_anywhere = bad
        if bad_anywhere.item() > 0:
            where = f"batch {key}" if bad.item() > 0 else "a batch of another process"
            raise TrainingError(
                f"non-finite loss ({loss.item()}) at iteration {self.iteration + 1} on {where}"
            )

    def _mean_over_processes(self, value: torch.Tensor) -> float:
        if self.ddp.active:
            value = value.float().clone()
            dist.all_reduce(value)
            value /= self.ddp.world_size
        return float(value)

    # -- checkpoints

    def state(self) -> dict:
        rng = torch.get_rng_state()
        rng_states = [rng]
        if self.ddp.active:
            rng_states = [None] * self.ddp.world_size
            dist.all_gather_object(rng_states, rng)
        return {
            "iteration": self.iteration,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "torch_rng": rng_states,
            "cuda_rng": torch.cuda.get_rng_state() if self.device.type == "cuda" else None,
            "history": self.history,
        }

    def restore(self, checkpoint: dict) -> None:
        unwrap(self.model).load_state_dict(checkpoint["model"])
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        self.scheduler.load_state_dict(checkpoint["scheduler"])
        self.scaler.load_state_dict(checkpoint["scaler"])
        torch.set_rng_state(checkpoint["torch_rng"][self.ddp.rank])
        if checkpoint["cuda_rng"] is not None and self.device.type == "cuda":
            torch.cuda.set_rng_state(checkpoint["cuda_rng"])
        self.iteration = checkpoint["iteration"]
        self.history = list(checkpoint["history"])


def training_loss(
    logits: torch.Tensor, labels: torch.Tensor, class_weights: torch.Tensor, side: int
) -> torch.Tensor:
    """Loss (1): class-weighted pixel cross-entropy, averaged over labelled pixels (as Caffe)."""
    logits = logits_at(logits.float(), side)
    total = F.cross_entropy(
        logits, labels.long(), weight=class_weights, ignore_index=VOID, reduction="sum"
    )
    return total / (labels != VOID).sum().clamp(min=1)
