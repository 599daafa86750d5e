"""EM-Adapt E-step (Papandreou et al. 2015): adaptive biases that enforce label portions.

Per image, absent classes are excluded (DeepLab clips them below the lowest present score, so
they never win). Background comes first, then the present object classes in a random order;
each class c gets the bias that makes it the maximum on at least `portion` of the pixels:
the n-th smallest of (pixelwise max - s_c). DeepLab repeats the pass `num_iter` times with a
new order each time. Scores are log-probabilities: they differ from the network's logits by a
per-pixel constant, which cancels in every difference and in the argmax.
"""

from __future__ import annotations

import math

import numpy as np

from mcnn.labels.energy import network_costs

# Exact score ties (an untrained uniform network, probabilities clipped to the same floor)
# would all go to the lowest label under argmax and break the portions; noise far below any
# meaningful score difference breaks them at random instead.
_TIE_NOISE = 1e-6
# Added to each bias so that the class being adjusted wins the pixel that sets its bias.
_BIAS_MARGIN = 1e-9


def em_adapt_labels(probs: np.ndarray, tags, cfg: dict, rng: np.random.Generator) -> np.ndarray:
    """Latent labels uint8 (B, H, W) from softmax `probs` (B, K, H, W) and the image tags."""
    present = np.array([0, *sorted(tags)])
    batch, _, height, width = probs.shape
    labels = np.zeros((batch, height, width), np.uint8)
    if len(present) == 1:
        return labels
    n_pixels = height * width
    portions = {0: cfg["em_adapt_bg_portion"]}
    portions.update({c: cfg["em_adapt_fg_portion"] for c in present[1:]})
    for b in range(batch):
        scores = -network_costs(probs[b, present], cfg["prob_floor"]).reshape(len(present), -1)
        scores += rng.uniform(0, _TIE_NOISE, scores.shape)
        top = scores.max(0)
        for _ in range(cfg["em_adapt_sweeps"]):
            order = [0, *(1 + rng.permutation(len(present) - 1))]
            for row in order:
                n = math.ceil(portions[present[row]] * n_pixels)
                if n == 0:
                    continue
                gap = top - scores[row]
                scores[row] += np.partition(gap, n - 1)[n - 1] + _BIAS_MARGIN
                np.maximum(top, scores[row], out=top)
        labels[b] = present[scores.argmax(0)].reshape(height, width)
    return labels
