"""Latent label inference for a training batch (paper section 3.2; EM-Adapt E-step).

    labels = infer_labels(frames, masks, probs, tags, cfg, strategy, alpha=None, rng=None)
    result = infer_batch(...)  # the same, with the M-CNN search's per-frame record

Strategies: `mcnn` (motion as soft constraints, mcnn.labels.mcnn_soft), `hard` (motion mask x
tag, mcnn.labels.hard) and `em_adapt` (label portions, mcnn.labels.em_adapt). A batch without
tags is all background.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mcnn.labels.em_adapt import em_adapt_labels
from mcnn.labels.hard import hard_labels
from mcnn.labels.mcnn_soft import SoftInference, infer_mcnn

STRATEGIES = ("mcnn", "hard", "em_adapt")

__all__ = [
    "STRATEGIES",
    "BatchLabels",
    "SoftInference",
    "infer_batch",
    "infer_labels",
    "infer_mcnn",
]


@dataclass(frozen=True)
class BatchLabels:
    """Labels uint8 (B, H, W) and, for `mcnn`, the search behind them (None otherwise)."""

    labels: np.ndarray
    search: SoftInference | None


def infer_labels(*args, **kwargs) -> np.ndarray:
    """Latent labels uint8 (B, H, W) in 0..K-1 for one batch; arguments as `infer_batch`."""
    return infer_batch(*args, **kwargs).labels


def infer_batch(
    frames: np.ndarray,
    masks: np.ndarray,
    probs: np.ndarray,
    tags,
    cfg: dict,
    strategy: str,
    alpha: float | None = None,
    rng: np.random.Generator | None = None,
) -> BatchLabels:
    """Latent labels uint8 (B, H, W) in 0..K-1 for one batch, with the M-CNN search record.

    `frames` uint8 (B, H, W, 3) RGB, `masks` (B, H, W) 0/1 motion masks, `probs` (B, K, H, W)
    softmax scores, `tags` the label values (1..K-1) of the video or image, `cfg` the validated
    `labels` config section, `alpha` overrides cfg["alpha"], `rng` drives the GMM seeds and
    EM-Adapt's class order (default: a generator seeded with 0). `frames` and `masks` are
    only read by `mcnn` and `hard`; `em_adapt` uses the network alone.
    """
    probs = np.asarray(probs)
    tags = sorted({int(t) for t in tags})
    _check_inputs(frames, masks, probs, tags, strategy)
    rng = np.random.default_rng(0) if rng is None else rng
    if strategy == "hard":
        return BatchLabels(hard_labels(masks, probs, tags), None)
    if strategy == "em_adapt":
        return BatchLabels(em_adapt_labels(probs, tags, cfg, rng), None)
    alpha = cfg["alpha"] if alpha is None else alpha
    search = infer_mcnn(np.asarray(frames), np.asarray(masks), probs, tags, cfg, alpha, rng)
    return BatchLabels(search.labels, search)


def _check_inputs(frames, masks, probs, tags, strategy) -> None:
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown label strategy {strategy!r}; expected one of {STRATEGIES}")
    if probs.ndim != 4:
        raise ValueError(f"probs must be (B, K, H, W), got shape {probs.shape}")
    batch, n_labels, height, width = probs.shape
    if any(t < 1 or t >= n_labels for t in tags):
        raise ValueError(f"tags {tags} must be object labels in 1..{n_labels - 1}")
    if strategy == "em_adapt":
        return
    frames, masks = np.asarray(frames), np.asarray(masks)
    if frames.shape != (batch, height, width, 3) or frames.dtype != np.uint8:
        raise ValueError(
            f"frames must be uint8 {(batch, height, width, 3)} to match probs, "
            f"got {frames.dtype} {frames.shape}"
        )
    if masks.shape != (batch, height, width):
        raise ValueError(f"masks must be {(batch, height, width)}, got {masks.shape}")
