"""Checkpoints of a run: its identity, resuming it, writing it, and initial weights."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from pathlib import Path

import torch.distributed as dist

from mcnn.core.io import DataError
from mcnn.models import load_checkpoint, save_checkpoint
from mcnn.train.trainer import Trainer

log = logging.getLogger(__name__)


@functools.cache
def code_version() -> str:
    """Digest of the mcnn package's code (its .py and schema files, by content): a checkpoint
    written by other code is never resumed. Content, not `git describe`, so that it holds
    outside a git checkout and for uncommitted edits alike."""
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*")):
        if path.suffix in (".py", ".yaml") and "__pycache__" not in path.parts:
            digest.update(path.relative_to(package).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def fingerprint(**parts) -> str:
    """Identity of a run's inputs and settings; a checkpoint of another run is never resumed."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_init(model, path, classes) -> None:
    checkpoint = load_checkpoint(path)
    if list(checkpoint["classes"]) != list(classes):
        raise DataError(path, f"model classes {checkpoint['classes']} differ from {list(classes)}")
    try:
        model.load_state_dict(checkpoint["model"])
    except RuntimeError as exc:
        raise DataError(path, f"weights do not fit the configured model: {exc}") from exc
    log.info("initialised from %s", path)


def maybe_resume(trainer: Trainer, path: Path, run_id: str) -> int | None:
    if not path.is_file():
        return None
    checkpoint = load_checkpoint(path, map_location=trainer.device)
    if checkpoint.get("run_id") != run_id:
        log.warning(
            "%s belongs to another run (inputs, settings or code changed): starting afresh", path
        )
        return None
    trainer.restore(checkpoint)
    log.info("resumed from %s at iteration %d", path, trainer.iteration)
    return trainer.iteration


def write_checkpoint(trainer: Trainer, path: Path, run_id: str, classes) -> None:
    state = trainer.state()  # collective under DDP: every process takes part
    if trainer.ddp.is_main:
        save_checkpoint(
            path, trainer.model, trainer.params["model"], classes, run_id=run_id, **state
        )
    if trainer.ddp.active:
        dist.barrier()


def finish_checkpoint(path: Path) -> None:
    """Remove a completed run's checkpoint once model.pt is written: a later run (forced, or
    with changed code) must train from the start, while a killed run still finds its last one."""
    if path.exists():
        path.unlink()
        log.info("run complete: removed %s", path)
