"""Motion boundaries from optical flow (FST, Papazoglou & Ferrari 2013, section 3.1).

A pixel is on a motion boundary where the flow field changes abruptly: either its magnitude
(flow gradient) or, for moderate gradients, its direction relative to the 4 neighbours.
"""

from __future__ import annotations

import numpy as np


def flow_gradient_magnitude(flow: np.ndarray) -> np.ndarray:
    """(H, W) norm of the flow's spatial Jacobian, sqrt(ux^2 + uy^2 + vx^2 + vy^2)."""
    uy, ux = np.gradient(flow[..., 0])
    vy, vx = np.gradient(flow[..., 1])
    return np.sqrt(ux * ux + uy * uy + vx * vx + vy * vy)


def max_neighbour_angle(flow: np.ndarray) -> np.ndarray:
    """(H, W) largest angle (0..pi) between a pixel's flow vector and its 4 neighbours'."""
    u, v = flow[..., 0], flow[..., 1]
    largest = np.zeros(u.shape, np.float32)
    # The angle of a pair is the same seen from either pixel (same products, |cross| of either
    # sign), so one angle per horizontal and per vertical pair serves both pixels. Beyond the
    # border the neighbour is the pixel itself (angle 0), which never raises the maximum.
    for axis in (1, 0):
        a = (slice(None), slice(None, -1)) if axis else (slice(None, -1), slice(None))
        b = (slice(None), slice(1, None)) if axis else (slice(1, None), slice(None))
        ua, va, ub, vb = u[a], v[a], u[b], v[b]
        # atan2(|cross|, dot) is the unsigned angle; zero vectors give 0, not NaN
        angle = np.arctan2(np.abs(ua * vb - va * ub), ua * ub + va * vb)
        np.maximum(largest[a], angle, out=largest[a])
        np.maximum(largest[b], angle, out=largest[b])
    return largest


def motion_boundaries(
    flow: np.ndarray,
    cfg: dict,
    gradient_constant: float | None = None,
    terms: tuple[np.ndarray, np.ndarray] | None = None,
):
    """(H, W) float32 motion-boundary strength in [0, 1] for one flow field.

    `cfg` is `config["motion"]["fst"]`; `gradient_constant` overrides its `gradient_constant`
    (the quality-driven recalibration sweeps it). `terms`: the flow's (gradient magnitude,
    largest neighbour angle) if already computed (they do not depend on the constants).
    """
    lam = cfg["gradient_constant"] if gradient_constant is None else gradient_constant
    if terms is None:
        terms = (flow_gradient_magnitude(flow), max_neighbour_angle(flow))
    gradient, angle = terms
    b_mag = 1.0 - np.exp(-lam * gradient)
    b_theta = 1.0 - np.exp(-cfg["orientation_constant"] * angle**2)
    strong = b_mag > cfg["strong_gradient"]
    moderate = (b_mag > cfg["weak_gradient"]) & ~strong
    strength = np.where(
        strong, b_mag, np.where(moderate, b_mag * b_theta, cfg["weak_factor"] * b_mag)
    )
    return strength.astype(np.float32)
