"""M-CNN training (paper 3.2, 4.2-4.4): SGD on DeepLab with latent labels inferred every batch.

One mini-batch is the 10 sampled frames of one shot (or, in mixed training, a group of tagged
images). Per batch: random crop + mirror, forward, latent labels from the network's softmax and
the motion masks (`mcnn.labels.infer_labels`), class-weighted pixel cross-entropy (1), backward.

Label inference runs in a pool of worker processes. With `label_prefetch` = d > 0, batches
t..t+d are queued ahead: each is predicted (no-grad, eval mode) with the weights current when it
is queued and its labels are inferred in a worker while the main process trains on earlier
batches, so labels are at most d SGD steps old. With d = 0 the labels come from the training
forward pass itself and the step waits for them (the paper's exact scheme). The queue never
reaches past the next checkpoint, so a resumed run sees exactly the batches and labels of an
uninterrupted one: on CPU with the same seed both end with identical weights.

Data order: epoch e visits the items in the permutation drawn from (seed, e); batch g (global
index, `iteration * world_size + rank`) draws its crop, mirror and label seeds from (seed, g).
The resume position is therefore just the iteration count.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import multiprocessing
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
import torch.nn.functional as F
from tqdm import tqdm

from mcnn.core.io import DataError, write_csv, write_json
from mcnn.labels import infer_labels
from mcnn.models import build_model, load_checkpoint, save_checkpoint, unwrap

log = logging.getLogger(__name__)

VOID = 255
STAGES = ("train", "finetune", "mixed")
HISTORY_COLUMNS = ["iteration", "loss", "lr", "label_wait_s", "step_s", "frames", "batch"]


class TrainingError(RuntimeError):
    """Training cannot go on (e.g. a non-finite loss); the message names iteration and batch."""


# ----------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Item:
    """One mini-batch source: a shot of a sample store, or a fixed group of tagged images."""

    key: str
    tags: tuple[tuple[int, ...], ...]  # label values per member (one member for a shot)
    store: int = -1  # index into TrainingData.stores, shots only
    shot_id: str = ""
    image_rows: tuple[int, ...] = ()  # rows of TrainingData.images, images only


@dataclass
class Batch:
    key: str
    frames: np.ndarray  # (B, crop, crop, 3) uint8, network input
    small_frames: np.ndarray  # (B, s, s, 3) uint8 at the label size
    small_masks: np.ndarray  # (B, s, s) uint8 motion masks at the label size (0 for images)
    groups: list[tuple[int, int, tuple[int, ...], str]]  # (start, stop, tags, strategy)
    seed: tuple[int, ...]


def tags_to_labels(names: Sequence[str], classes: Sequence[str], where: str) -> tuple[int, ...]:
    """Class names -> label values (class k is label k+1); unknown names raise DataError."""
    unknown = [name for name in names if name not in classes]
    if unknown:
        raise DataError(where, f"tags {unknown} are not in the configured classes {list(classes)}")
    return tuple(sorted(classes.index(name) + 1 for name in names))


def split_tags(value) -> list[str]:
    return [] if not isinstance(value, str) else [t for t in value.split(";") if t]


def read_selection(path: str | os.PathLike) -> set[tuple[str, str]]:
    """(dataset, shot_id) of the shots marked `selected` in a select-shots table."""
    try:
        table = pd.read_csv(path, dtype={"dataset": str, "shot_id": str})
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(path, f"selection table cannot be read: {exc}") from exc
    missing = {"dataset", "shot_id", "selected"} - set(table.columns)
    if missing:
        raise DataError(path, f"selection table lacks columns {sorted(missing)}")
    chosen = table[table["selected"].astype(bool)]
    return set(zip(chosen["dataset"], chosen["shot_id"], strict=True))


class TrainingData:
    """The items of one training stage and how to turn an item into a cropped batch."""

    def __init__(
        self,
        sample_paths: Sequence[str | os.PathLike],
        classes: Sequence[str],
        train_cfg: dict,
        strategy: str,
        selection: set[tuple[str, str]] | None = None,
        image_index: pd.DataFrame | None = None,
        image_index_path: str = "",
        images_per_batch: int = 10,
        seed: int = 0,
    ):
        from mcnn.shots.samples import SampleStore

        self.classes = list(classes)
        self.crop = train_cfg["crop"]
        self.mirror = train_cfg["mirror"]
        self.label_side = math.ceil(self.crop / train_cfg["label_stride"])
        self.strategy = strategy
        self.stores = [SampleStore(path) for path in sample_paths]
        self.items: list[Item] = []
        for store_index, (path, store) in enumerate(zip(sample_paths, self.stores, strict=True)):
            for shot in store.shot_table().sort_values("shot_id").itertuples():
                if selection is not None and (shot.dataset, shot.shot_id) not in selection:
                    continue
                where = f"{path} shot {shot.shot_id}"
                tags = tags_to_labels(split_tags(shot.labels), self.classes, where)
                if not tags:
                    raise DataError(path, f"shot {shot.shot_id} has no video tag to train with")
                key = f"{shot.dataset}/{shot.shot_id}"
                self.items.append(Item(key, (tags,), store=store_index, shot_id=shot.shot_id))
        if selection is not None and not self.items:
            raise DataError(
                sample_paths[0] if sample_paths else "", "no selected shot is in the samples"
            )
        self.images = pd.DataFrame()
        if image_index is not None:
            self.images = image_index.reset_index(drop=True)
            self.items += self._image_items(image_index_path, images_per_batch, seed)
        if not self.items:
            raise DataError(", ".join(map(str, sample_paths)), "no training shot or image")

    def _image_items(self, path: str, per_batch: int, seed: int) -> list[Item]:
        tags = [
            tags_to_labels(split_tags(value), self.classes, f"{path} image {row}")
            for row, value in enumerate(self.images["labels"])
        ]
        # Fixed, seeded groups: a group of images plays the role of one shot's frames.
        order = np.random.default_rng([seed, 2]).permutation(len(self.images))
        items = []
        for start in range(0, len(order), per_batch):
            rows = tuple(int(r) for r in order[start : start + per_batch])
            ids = "+".join(str(self.images.at[r, "shot_id"]) for r in rows[:2])
            key = f"images/{ids}{'+...' if len(rows) > 2 else ''}"
            items.append(Item(key, tuple(tags[r] for r in rows), image_rows=rows))
        return items

    def class_weights(self) -> np.ndarray:
        """Loss weight per label: min_j num_j / num_l for classes (paper 4.2), 1 for background.

        num_l counts training shots (and images) tagged with l; a class without any cannot
        appear in the latent labels, so its weight is irrelevant and left at 1.
        """
        counts = np.zeros(1 + len(self.classes))
        for item in self.items:
            for tags in item.tags:
                counts[list(tags)] += 1
        weights = np.ones_like(counts)
        present = counts[1:] > 0
        if present.any():
            weights[1:][present] = counts[1:][present].min() / counts[1:][present]
        return weights.astype(np.float32)

    def item_at(self, global_index: int, seed: int) -> Item:
        epoch, position = divmod(global_index, len(self.items))
        order = np.random.default_rng([seed, 1, epoch]).permutation(len(self.items))
        return self.items[order[position]]

    def batch(self, global_index: int, seed: int, video_strategy: str) -> Batch:
        item = self.item_at(global_index, seed)
        rng = np.random.default_rng([seed, 3, global_index])
        if item.image_rows:
            crops = [self._crop(self._read_image(row), None, rng) for row in item.image_rows]
            frames = np.concatenate([c[0] for c in crops])
            masks = np.zeros(frames.shape[:3], np.uint8)
            groups = [(i, i + 1, tags, "em_adapt") for i, tags in enumerate(item.tags)]
        else:
            sample = self.stores[item.store].read(item.shot_id)
            frames, masks = self._crop(sample.frames, sample.masks, rng)
            groups = [(0, len(frames), item.tags[0], video_strategy)]
        size = (self.label_side, self.label_side)
        small_frames = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames])
        small_masks = np.stack(
            [cv2.resize(m, size, interpolation=cv2.INTER_NEAREST) for m in masks]
        )
        return Batch(item.key, frames, small_frames, small_masks, groups, (seed, 4, global_index))

    def _read_image(self, row: int) -> np.ndarray:
        from mcnn.datasets.frames import read_frames

        record = self.images.iloc[row]
        _, images = read_frames(record)
        return images[0][None]

    def _crop(self, frames: np.ndarray, masks: np.ndarray | None, rng: np.random.Generator):
        """One random square crop (and mirror) shared by all frames; small frames are upscaled."""
        height, width = frames.shape[1:3]
        scale = self.crop / min(height, width)
        if scale > 1:
            size = (max(self.crop, round(width * scale)), max(self.crop, round(height * scale)))
            frames = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_LINEAR) for f in frames])
            if masks is not None:
                masks = np.stack(
                    [cv2.resize(m, size, interpolation=cv2.INTER_NEAREST) for m in masks]
                )
            height, width = frames.shape[1:3]
        y = int(rng.integers(0, height - self.crop + 1))
        x = int(rng.integers(0, width - self.crop + 1))
        window = np.s_[:, y : y + self.crop, x : x + self.crop]
        frames = frames[window]
        masks = masks[window] if masks is not None else np.zeros(frames.shape[:3], np.uint8)
        if self.mirror and rng.random() < 0.5:
            frames, masks = frames[:, :, ::-1], masks[:, :, ::-1]
        return np.ascontiguousarray(frames), np.ascontiguousarray(masks)


def read_image_index(path: str | os.PathLike, split: str) -> pd.DataFrame:
    """Tagged still images (`source` image) of `split` from a shot index CSV."""
    from mcnn.datasets import read_shots

    shots = read_shots(path)
    images = shots[(shots["source"] == "image") & (shots["split"] == split)]
    images = images[images["labels"].fillna("") != ""]
    if images.empty:
        raise DataError(path, f"no tagged image of split {split!r}")
    return images


# ----------------------------------------------------------------------------- labels


def batch_labels(
    small_frames: np.ndarray,
    small_masks: np.ndarray,
    probs: np.ndarray,
    groups: Sequence[tuple[int, int, tuple[int, ...], str]],
    labels_cfg: dict,
    alpha: float,
    seed: Sequence[int],
) -> np.ndarray:
    """Latent labels of one batch; each group (a shot, or one image) is inferred on its own."""
    labels = np.empty(probs.shape[:1] + probs.shape[2:], np.uint8)
    for start, stop, tags, strategy in groups:
        window = slice(start, stop)
        labels[window] = infer_labels(
            small_frames[window],
            small_masks[window],
            probs[window],
            tags,
            labels_cfg,
            strategy,
            alpha=alpha,
            rng=np.random.default_rng([*seed, start]),
        )
    return labels


def _worker_init() -> None:
    # The pool already runs one process per core it was given; nested threading would only
    # oversubscribe the CPU that the training process needs too.
    cv2.setNumThreads(1)
    torch.set_num_threads(1)


class LabelPool:
    """Runs `batch_labels` in worker processes (or inline with 0 workers), timing the waits."""

    def __init__(self, workers: int, labels_cfg: dict):
        self.labels_cfg = labels_cfg
        # spawn, not fork: forking a process that holds torch/OpenMP/CUDA threads can deadlock.
        context = multiprocessing.get_context("spawn")
        self.pool = context.Pool(workers, initializer=_worker_init) if workers > 0 else None
        self.wait_seconds = 0.0

    def submit(self, batch: Batch, probs: np.ndarray, alpha: float):
        args = (
            batch.small_frames,
            batch.small_masks,
            probs,
            batch.groups,
            self.labels_cfg,
            alpha,
            batch.seed,
        )
        if self.pool is None:
            return args
        return self.pool.apply_async(batch_labels, args)

    def result(self, job) -> np.ndarray:
        start = time.perf_counter()
        labels = batch_labels(*job) if self.pool is None else job.get()
        self.wait_seconds += time.perf_counter() - start
        return labels

    def close(self) -> None:
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()


# ----------------------------------------------------------------------------- training


@dataclass(frozen=True)
class StageSchedule:
    name: str
    iterations: int
    lr_step: int
    alpha: float
    alpha_warmup: int  # iterations over which alpha ramps up from 0 (0 = none)

    def alpha_at(self, iteration: int) -> float:
        """Weight of the network term in the label energy for the batch of `iteration`."""
        if self.alpha_warmup == 0:
            return self.alpha
        return self.alpha * min(1.0, iteration / self.alpha_warmup)


def stage_schedule(params: dict, labels_cfg: dict, stage: str) -> StageSchedule:
    """Iterations, lr step and label alpha of a stage (finetune and mixed use alpha_finetune)."""
    if stage not in STAGES:
        raise ValueError(f"unknown training stage {stage!r}; expected one of {STAGES}")
    section = params[stage]
    alpha = labels_cfg["alpha"] if stage == "train" else labels_cfg["alpha_finetune"]
    warmup = section.get("alpha_warmup", 0)
    return StageSchedule(stage, section["iterations"], section["lr_step"], alpha, warmup)


def make_optimizer(model: torch.nn.Module, sgd: dict, lr_step: int):
    """SGD with DeepLab's larger learning rate on the classifier, and the single lr step."""
    net = unwrap(model)
    classifier = {id(p) for p in net.classifier_parameters()}
    groups = [
        {"params": [p for p in net.parameters() if id(p) not in classifier], "lr": sgd["lr"]},
        {"params": net.classifier_parameters(), "lr": sgd["lr"] * sgd["classifier_lr_mult"]},
    ]
    optimizer = torch.optim.SGD(groups, momentum=sgd["momentum"], weight_decay=sgd["weight_decay"])
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, [lr_step], gamma=sgd["lr_gamma"])
    return optimizer, scheduler


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
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda":
        torch.cuda.set_device(ddp.local_rank)
        return torch.device("cuda", ddp.local_rank)
    return torch.device(requested)


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
            labels = self.labels.result(job)
        else:
            batch = self.data.batch(self._global_index(self.iteration), self.seed, self.strategy)
            logits = self._forward(self.model, to_input(batch.frames, self.device))
            alpha = self.schedule.alpha_at(self.iteration)
            labels = self.labels.result(self.labels.submit(batch, self._probs(logits), alpha))
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
        }
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


def fingerprint(**parts) -> str:
    """Identity of a run's inputs and settings; a checkpoint of another run is never resumed."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def train(
    sample_paths: Sequence[str | os.PathLike],
    params: dict,
    labels_cfg: dict,
    classes: Sequence[str],
    strategy: str,
    seed: int,
    output_dir: str | os.PathLike,
    init: str | os.PathLike | None = None,
    shots_table: str | os.PathLike | None = None,
    image_index: str | os.PathLike | None = None,
    device: str = "auto",
) -> dict:
    """Train one stage and write model.pt, loss.csv, loss.png and train.json in `output_dir`.

    The stage follows from the inputs: images -> `mixed`, a shot table -> `finetune`, else
    `train`. A `checkpoint.pt` of the same run in `output_dir` is resumed. Returns the summary.
    """
    stage = "mixed" if image_index else "finetune" if shots_table else "train"
    schedule = stage_schedule(params, labels_cfg, stage)
    ddp = init_distributed(
        "cuda" if device in ("auto", "cuda") and torch.cuda.is_available() else "cpu"
    )
    torch_device = pick_device(device, ddp)
    output_dir = Path(output_dir)
    # Same initial weights and dropout stream on every run with this seed; per-rank dropout.
    torch.manual_seed(seed * 1000 + ddp.rank)
    selection = read_selection(shots_table) if shots_table else None
    images = read_image_index(image_index, params["mixed"]["image_split"]) if image_index else None
    data = TrainingData(
        sample_paths,
        classes,
        params["train"],
        strategy,
        selection,
        images,
        str(image_index or ""),
        params["mixed"]["images_per_batch"],
        seed,
    )
    model = build_model(params["model"], 1 + len(classes))
    if init:
        _load_init(model, init, classes)
    model.to(torch_device).train()
    if ddp.active:
        model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[torch_device.index] if torch_device.type == "cuda" else None
        )
    trainer = Trainer(model, data, params, schedule, labels_cfg, strategy, seed, torch_device, ddp)
    run_id = fingerprint(
        stage=stage,
        params=params,
        labels=labels_cfg,
        classes=list(classes),
        strategy=strategy,
        seed=seed,
        items=[item.key for item in data.items],
        init=str(init or ""),
        world_size=ddp.world_size,
    )
    checkpoint_path = output_dir / "checkpoint.pt"
    resumed_from = _maybe_resume(trainer, checkpoint_path, run_id)
    log.info(
        "%s stage: %d items, %d iterations (from %d), strategy %s, %s, %d process(es)",
        stage,
        len(data.items),
        schedule.iterations,
        trainer.iteration,
        strategy,
        torch_device,
        ddp.world_size,
    )
    start_iteration, start = trainer.iteration, time.perf_counter()
    pending: dict = {}
    try:
        with tqdm(
            total=schedule.iterations,
            initial=trainer.iteration,
            disable=not ddp.is_main,
            desc=f"{stage} {strategy}",
        ) as progress:
            while trainer.iteration < schedule.iterations:
                row = trainer.step(pending)
                progress.update(1)
                progress.set_postfix(loss=f"{row['loss']:.4f}")
                done = trainer.iteration
                if done % trainer.checkpoint_every == 0 or done == schedule.iterations:
                    _write_checkpoint(trainer, checkpoint_path, run_id, classes)
    finally:
        trainer.labels.close()
    elapsed = time.perf_counter() - start
    summary = _summary(trainer, stage, strategy, seed, start_iteration, elapsed, resumed_from)
    if ddp.is_main:
        save_checkpoint(
            output_dir / "model.pt",
            model,
            params["model"],
            classes,
            iteration=trainer.iteration,
            stage=stage,
            strategy=strategy,
            seed=seed,
        )
        write_loss(output_dir, trainer.history)
        write_json(output_dir / "train.json", summary)
    if ddp.active:
        dist.barrier()
    return summary


def _load_init(model, path, classes) -> None:
    checkpoint = load_checkpoint(path)
    if list(checkpoint["classes"]) != list(classes):
        raise DataError(path, f"model classes {checkpoint['classes']} differ from {list(classes)}")
    try:
        model.load_state_dict(checkpoint["model"])
    except RuntimeError as exc:
        raise DataError(path, f"weights do not fit the configured model: {exc}") from exc
    log.info("initialised from %s", path)


def _maybe_resume(trainer: Trainer, path: Path, run_id: str) -> int | None:
    if not path.is_file():
        return None
    checkpoint = load_checkpoint(path, map_location=trainer.device)
    if checkpoint.get("run_id") != run_id:
        log.warning("%s belongs to another run (inputs or settings changed): starting afresh", path)
        return None
    trainer.restore(checkpoint)
    log.info("resumed from %s at iteration %d", path, trainer.iteration)
    return trainer.iteration


def _write_checkpoint(trainer: Trainer, path: Path, run_id: str, classes) -> None:
    state = trainer.state()  # collective under DDP: every process takes part
    if trainer.ddp.is_main:
        save_checkpoint(
            path, trainer.model, trainer.params["model"], classes, run_id=run_id, **state
        )
    if trainer.ddp.active:
        dist.barrier()


def _summary(trainer: Trainer, stage, strategy, seed, start_iteration, elapsed, resumed_from):
    rows = trainer.history[start_iteration:]
    steps = trainer.iteration - start_iteration
    step_time = sum(row["step_s"] for row in rows)
    frames = sum(row["frames"] for row in rows) * trainer.ddp.world_size
    return {
        "stage": stage,
        "strategy": strategy,
        "seed": seed,
        "iterations": trainer.iteration,
        "iterations_this_run": steps,
        "resumed_from": resumed_from,
        "world_size": trainer.ddp.world_size,
        "device": str(trainer.device),
        "items": len(trainer.data.items),
        "class_weights": trainer.data.class_weights().tolist(),
        "seconds": elapsed,
        "frames_per_s": frames / elapsed if steps else None,
        "label_wait_share": sum(r["label_wait_s"] for r in rows) / step_time if step_time else None,
        "final_loss": rows[-1]["loss"] if rows else None,
    }


def write_loss(output_dir: Path, history: list[dict]) -> None:
    """loss.csv (one row per iteration) and loss.png (loss with a running mean)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mcnn.core.io import atomic_path

    table = pd.DataFrame(history, columns=HISTORY_COLUMNS)
    write_csv(output_dir / "loss.csv", table)
    figure, axis = plt.subplots(figsize=(7, 4))
    axis.plot(table["iteration"], table["loss"], lw=0.6, alpha=0.5, label="loss")
    window = max(1, len(table) // 50)
    axis.plot(
        table["iteration"],
        table["loss"].rolling(window, min_periods=1).mean(),
        lw=1.5,
        label=f"running mean ({window})",
    )
    axis.set_xlabel("iteration")
    axis.set_ylabel("weighted cross-entropy")
    axis.legend()
    figure.tight_layout()
    with atomic_path(output_dir / "loss.png") as tmp:
        figure.savefig(tmp, dpi=100)
    plt.close(figure)
