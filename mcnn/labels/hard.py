"""'M-CNN* hard' labels: the motion mask taken as the segmentation."""

from __future__ import annotations

import numpy as np


def hard_labels(masks: np.ndarray, probs: np.ndarray, tags) -> np.ndarray:
    """x = motion mask x tag, uint8 (B, H, W).

    With several tags a motion pixel takes the tag the network scores highest there (ties, e.g.
    an untrained uniform network, go to the lowest label); with no tag everything is background.
    """
    tags = sorted(tags)
    moving = np.asarray(masks) > 0
    if not tags:
        return np.zeros(moving.shape, np.uint8)
    best = np.asarray(tags)[np.argmax(probs[:, tags], axis=1)]
    return np.where(moving, best, 0).astype(np.uint8)
