"""Latent labels of a batch, inferred inline or in a pool of worker processes.

With `label_prefetch` = d > 0 (see `mcnn.train.trainer`), labels of batches t..t+d are inferred in
workers while the main process trains on earlier batches; the pool times how long the step waits.
"""

from __future__ import annotations

import multiprocessing
import signal
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

import cv2
import numpy as np
import torch

from mcnn.labels import infer_batch
from mcnn.train.data import Batch


def batch_labels(
    small_frames: np.ndarray,
    small_masks: np.ndarray,
    probs: np.ndarray,
    groups: Sequence[tuple[int, int, tuple[int, ...], str]],
    labels_cfg: dict,
    alpha: float,
    seed: Sequence[int],
) -> tuple[np.ndarray, dict]:
    """Latent labels of one batch; each group (a shot, or one image) is inferred on its own.

    Also returns how the M-CNN search went: `searched` frames, how many of them `fell_back` to
    their motion-mask labels, and their `accepted` iterations in all (zeros for other strategies).
    """
    labels = np.empty(probs.shape[:1] + probs.shape[2:], np.uint8)
    search = {"searched": 0, "fell_back": 0, "accepted": 0}
    for start, stop, tags, strategy in groups:
        window = slice(start, stop)
        result = infer_batch(
            small_frames[window],
            small_masks[window],
            probs[window],
            tags,
            labels_cfg,
            strategy,
            alpha=alpha,
            rng=np.random.default_rng([*seed, start]),
        )
        labels[window] = result.labels
        if result.search is not None:
            search["searched"] += stop - start
            search["fell_back"] += int(result.search.fell_back.sum())
            search["accepted"] += int(result.search.accepted.sum())
    return labels, search


def _worker_init() -> None:
    # The pool already runs one process per core it was given; nested threading would only
    # oversubscribe the CPU that the training process needs too.
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    # Slurm's time-limit SIGTERM reaches every process of the job: the workers finish the
    # labels the training waits for, and the training checkpoints and stops (mcnn.train.run).
    # The pool stops its workers without signals.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


class LabelPool:
    """Runs `batch_labels` in worker processes (or inline with 0 workers), timing the waits.

    `result` returns what `batch_labels` does: the labels and the search record.
    """

    def __init__(self, workers: int, labels_cfg: dict):
        self.labels_cfg = labels_cfg
        # spawn, not fork: forking a process that holds torch/OpenMP/CUDA threads can deadlock.
        context = multiprocessing.get_context("spawn")
        self.pool = (
            ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_init)
            if workers > 0
            else None
        )
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
        return self.pool.submit(batch_labels, *args)

    def result(self, job) -> tuple[np.ndarray, dict]:
        start = time.perf_counter()
        labels = batch_labels(*job) if self.pool is None else job.result()
        self.wait_seconds += time.perf_counter() - start
        return labels

    def close(self) -> None:
        if self.pool is not None:
            # Queued jobs are dropped; running ones (at most label_prefetch batches) finish.
            self.pool.shutdown(wait=True, cancel_futures=True)
