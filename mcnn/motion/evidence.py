"""Further motion evidence for FST's inside-outside maps (issue #32), both off by default
where the held-out protocol of benchmarks/motion_quality.py did not pick them.

- Camera-motion compensation (`fst.camera_compensation`): the flow a homography of the
  frame explains (the camera's motion over a far or flat background) is subtracted before the
  motion boundaries, so that perspective and zoom do not make boundaries of their own and a
  slow object stands out from what is left.
- Flow over a frame gap (`fst.gap_flow`): slow or articulated motion moves a few tenths of a
  pixel between consecutive frames, too little for a motion boundary; from frame t to t+k it
  moves k times as far. The gap flow's inside-outside map is added to frame t's.
"""

from __future__ import annotations

import cv2
import numpy as np

from mcnn.motion.flow import FlowEstimator

GRID_STEP = 8  # px between the flow samples the homography is fitted to
RANSAC_PX = 1.0  # inlier distance of the fit, px at max_side


def camera_flow(flow: np.ndarray) -> np.ndarray | None:
    """(H, W, 2) flow of the homography that explains most of `flow` (RANSAC), or None when
    no homography fits (too few samples or a degenerate field)."""
    h, w = flow.shape[:2]
    rows, cols = np.mgrid[GRID_STEP // 2 : h : GRID_STEP, GRID_STEP // 2 : w : GRID_STEP]
    src = np.stack([cols.ravel(), rows.ravel()], 1).astype(np.float32)
    if len(src) < 8:
        return None
    dst = src + flow[rows.ravel(), cols.ravel()]
    matrix, _ = cv2.findHomography(src, dst, cv2.RANSAC, RANSAC_PX)
    if matrix is None or not np.isfinite(matrix).all():
        return None
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    points = np.stack([xs, ys, np.ones_like(xs)], -1) @ matrix.T.astype(np.float32)
    depth = points[..., 2]
    if (np.abs(depth) < 1e-6).any():
        return None
    return np.stack([points[..., 0] / depth - xs, points[..., 1] / depth - ys], -1)


def compensate(flow: np.ndarray, mode: str) -> np.ndarray:
    """`flow` minus the camera's motion (`mode` "homography"), or as it is ("none")."""
    if mode == "none":
        return flow
    camera = camera_flow(flow)
    return flow if camera is None else (flow - camera).astype(np.float32)


def gap_pairs(n_frames: int, gap: int) -> list[tuple[int, int]]:
    """(t, partner) per frame: t + gap, or t - gap near the end of the shot; in a shot shorter
    than the gap, the farther end of the shot."""
    pairs = []
    for t in range(n_frames):
        if t + gap < n_frames:
            pairs.append((t, t + gap))
        elif t - gap >= 0:
            pairs.append((t, t - gap))
        else:
            pairs.append((t, n_frames - 1 if t < (n_frames - 1) / 2 else 0))
    return pairs


def gap_flows(frames: list[np.ndarray], flow_cfg: dict, gap: int) -> np.ndarray:
    """(T, H, W, 2) flow from each frame to its partner of `gap_pairs`."""
    estimate = FlowEstimator(flow_cfg)
    return np.stack([estimate(frames[t], frames[s]) for t, s in gap_pairs(len(frames), gap)])
