"""`train()`: one training stage from sample stores to model.pt, loss.csv/png and train.json."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import torch
import torch.distributed as dist
from tqdm import tqdm

from mcnn.core.io import write_csv, write_json
from mcnn.models import build_model, save_checkpoint
from mcnn.train.checkpoints import (
    code_version,
    fingerprint,
    finish_checkpoint,
    load_init,
    maybe_resume,
    write_checkpoint,
)
from mcnn.train.data import TrainingData, read_image_index, read_selection
from mcnn.train.distributed import init_distributed, pick_device
from mcnn.train.label_quality import quality_summary, write_label_quality
from mcnn.train.schedule import stage_schedule
from mcnn.train.trainer import Trainer

log = logging.getLogger(__name__)

HISTORY_COLUMNS = ["iteration", "loss", "lr", "label_wait_s", "step_s", "frames", "batch"]

#: Exit status of a training stopped by SIGTERM once its checkpoint is written: 128 + 15, the
#: status of a process killed by SIGTERM, so that Slurm and Snakemake see a failed job (its
#: outputs are missing) and retry it (`retries`, or Slurm's RequeueExit=143): it resumes.
TERMINATED_EXIT = 128 + signal.SIGTERM


class TrainingStopped(RuntimeError):
    """SIGTERM (a Slurm time limit, a preemption) stopped the run after a checkpoint."""


@contextlib.contextmanager
def sigterm_flag():
    """Yield a function that says whether SIGTERM arrived since the block began: the training
    stops between two steps, never inside one or inside a checkpoint's write."""
    arrived = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield arrived.is_set  # signal handlers live in the main thread only
        return
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: arrived.set())
    try:
        yield arrived.is_set
    finally:
        signal.signal(signal.SIGTERM, previous)


def _stop_everywhere(requested: bool, ddp, device: torch.device) -> bool:
    """Under DDP every process must checkpoint and stop at the same iteration."""
    if not ddp.active:
        return requested
    flag = torch.tensor([float(requested)], device=device)  # NCCL reduces GPU tensors only
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return bool(flag.item())


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
    execution: dict | None = None,
) -> dict:
    """Train one stage; write model.pt, loss.csv/png, labels_quality.csv/png and train.json.

    The stage follows from the inputs: images -> `mixed`, a shot table -> `finetune`, else
    `train`. A `checkpoint.pt` of an unfinished run with the same identity in `output_dir` is
    resumed. `execution` (label_workers, checkpoint_every) is merged into `params["train"]`
    but is no part of that identity: it changes only the speed. Returns the summary.
    """
    run_params = {**params, "train": {**params["train"], **(execution or {})}}
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
        params["mixed"]["images_per_batch"] if image_index else 0,
        seed,
    )
    # A later stage starts from the previous stage's model.pt, not from ImageNet weights.
    model = build_model(params["model"], 1 + len(classes), load_pretrained=not init)
    init_weights = f"previous stage {init}" if init else model.init_weights
    log.info("initial weights: %s", init_weights)
    if init:
        load_init(model, init, classes)
    model.to(torch_device).train()
    if ddp.active:
        model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[torch_device.index] if torch_device.type == "cuda" else None
        )
    trainer = Trainer(
        model, data, run_params, schedule, labels_cfg, strategy, seed, torch_device, ddp
    )
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
        code=code_version(),
    )
    checkpoint_path = output_dir / "checkpoint.pt"
    if ddp.is_main:
        for stale in output_dir.glob(f".{checkpoint_path.name}.*"):
            stale.unlink()  # the temporary file of a save that a SIGKILL interrupted
    resumed_from = maybe_resume(trainer, checkpoint_path, run_id)
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

    def save_model(path: Path) -> None:
        """The network as it is now (model.pt, or a snapshot part-way through)."""
        save_checkpoint(
            path,
            model,
            params["model"],
            classes,
            iteration=trainer.iteration,
            stage=stage,
            strategy=strategy,
            seed=seed,
        )

    start_iteration, start = trainer.iteration, time.perf_counter()
    pending: dict = {}
    try:
        with (
            sigterm_flag() as sigterm,
            tqdm(
                total=schedule.iterations,
                initial=trainer.iteration,
                disable=not ddp.is_main,
                desc=f"{stage} {strategy}",
            ) as progress,
        ):
            while trainer.iteration < schedule.iterations:
                row = trainer.step(pending)
                progress.update(1)
                progress.set_postfix(loss=f"{row['loss']:.4f}")
                done = trainer.iteration
                stop = _stop_everywhere(sigterm(), ddp, torch_device)
                if done % trainer.checkpoint_every == 0 or done == schedule.iterations or stop:
                    write_checkpoint(trainer, checkpoint_path, run_id, classes)
                if ddp.is_main and done in params["train"]["snapshots"]:
                    save_model(output_dir / "snapshots" / f"model-{done:06d}.pt")
                if stop and done < schedule.iterations:
                    raise TrainingStopped(
                        f"SIGTERM at iteration {done} of {schedule.iterations}: checkpoint "
                        f"{checkpoint_path} written; the same job run again resumes from it"
                    )
    finally:
        trainer.labels.close()
    elapsed = time.perf_counter() - start
    summary = _summary(trainer, stage, strategy, seed, start_iteration, elapsed, resumed_from)
    summary["init_weights"] = init_weights
    if ddp.is_main:
        save_model(output_dir / "model.pt")
        write_loss(output_dir, trainer.history)
        write_label_quality(output_dir, trainer.history)
        write_json(output_dir / "train.json", summary)
        finish_checkpoint(checkpoint_path)
    if ddp.active:
        dist.barrier()
    return summary


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
        **quality_summary(trainer.history),
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
