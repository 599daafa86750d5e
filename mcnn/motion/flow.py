"""Dense optical flow between consecutive frames: OpenCV DIS (default), Farneback, the OpenCV
contrib flows (DeepFlow, TV-L1, dense RLOF; they need `opencv-contrib-python-headless` in place
of `opencv-python`, same version) or torchvision's RAFT (weights from a local file).

Sign convention (OpenCV's): `flow[y, x] = (dx, dy)` says that the pixel at (x, y) of the first
frame moves to (x + dx, y + dy) in the second, i.e. first(x, y) ~ second(x + dx, y + dy).
For a shot of T frames, `forward[t]` maps frame t to t+1 and `backward[t]` maps frame t+1 to t.
"""

from __future__ import annotations

import cv2
import numpy as np

DIS_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


def resize_to_max_side(frame: np.ndarray, max_side: int) -> np.ndarray:
    """Shrink `frame` so its longer side is `max_side` (never enlarges); area interpolation."""
    h, w = frame.shape[:2]
    factor = max_side / max(h, w)
    if factor >= 1:
        return frame
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


CONTRIB_METHODS = {  # method -> constructor name in cv2.optflow (OpenCV contrib)
    "deepflow": "createOptFlow_DeepFlow",
    "tvl1": "createOptFlow_DualTVL1",
    "rlof": "createOptFlow_DenseRLOF",
}


def contrib_flow(method: str):
    """An OpenCV contrib dense-flow object; a clear error when the contrib build is missing."""
    # Without the contrib build, cv2.optflow may still exist as an empty namespace.
    create = getattr(getattr(cv2, "optflow", None), CONTRIB_METHODS[method], None)
    if create is None:
        raise RuntimeError(
            f"motion.flow.method {method!r} needs OpenCV's contrib modules (cv2.optflow), absent "
            f"from the installed cv2 {cv2.__version__}: install opencv-contrib-python-headless "
            f"of the same version (cv2 {cv2.__version__}) in an environment of its own (with "
            "opencv-python, which scenedetect requires, in the same one, cv2 is whichever was "
            "installed last), or choose method dis"
        )
    return create()


class FlowEstimator:
    """Computes flow between RGB uint8 frames with the settings of `config["motion"]["flow"]`."""

    def __init__(self, cfg: dict):
        self.method = cfg["method"]
        self.farneback = cfg["farneback"]
        if self.method == "dis":
            self._dense = cv2.DISOpticalFlow_create(DIS_PRESETS[cfg["dis_preset"]])
            if cfg["dis_finest_scale"] is not None:
                self._dense.setFinestScale(cfg["dis_finest_scale"])
        elif self.method in CONTRIB_METHODS:
            self._dense = contrib_flow(self.method)
        elif self.method == "raft":
            from mcnn.motion.raft import RaftFlow

            self._raft = RaftFlow(cfg["raft_weights"])

    def __call__(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        """(H, W, 2) float32 flow from `first` to `second` (RGB uint8 of the same size)."""
        if self.method == "raft":
            return self._raft(first, second)
        if self.method == "rlof":  # RLOF works on colour images
            return self._dense.calc(first[..., ::-1].copy(), second[..., ::-1].copy(), None)
        a = cv2.cvtColor(first, cv2.COLOR_RGB2GRAY)
        b = cv2.cvtColor(second, cv2.COLOR_RGB2GRAY)
        if self.method != "farneback":
            return self._dense.calc(a, b, None)
        fb = self.farneback
        return cv2.calcOpticalFlowFarneback(
            a,
            b,
            None,
            fb["pyr_scale"],
            fb["levels"],
            fb["winsize"],
            fb["iterations"],
            fb["poly_n"],
            fb["poly_sigma"],
            0,
        )


def shot_flows(frames: list[np.ndarray], cfg: dict) -> tuple[np.ndarray, np.ndarray]:
    """Forward and backward flow of a shot: two (T-1, H, W, 2) float32 arrays."""
    estimate = FlowEstimator(cfg)
    forward = np.stack([estimate(a, b) for a, b in zip(frames[:-1], frames[1:], strict=True)])
    backward = np.stack([estimate(b, a) for a, b in zip(frames[:-1], frames[1:], strict=True)])
    return forward, backward


def warp_coordinates(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer (row, col) each pixel lands on when moved by `flow`, clipped to the image."""
    h, w = flow.shape[:2]
    # Broadcast integer ranges (float64 sums, as with a full grid), no (H, W) grid built.
    target_cols = np.clip(np.rint(flow[..., 0] + np.arange(w)), 0, w - 1).astype(np.intp)
    target_rows = np.clip(np.rint(flow[..., 1] + np.arange(h)[:, None]), 0, h - 1).astype(np.intp)
    return target_rows, target_cols


def landing_index(flow: np.ndarray) -> np.ndarray:
    """(H, W) flat index (row * W + col) of the pixel each pixel lands on (`warp_coordinates`)."""
    rows, cols = warp_coordinates(flow)
    return rows * flow.shape[1] + cols


def consistent_flow(
    flow: np.ndarray,
    back: np.ndarray,
    relative: float,
    absolute: float,
    landing: np.ndarray | None = None,
):
    """(H, W) bool: pixels whose `flow` (first -> second) is confirmed by `back` (second -> first).

    Forward-backward check (Sundaram, Brox & Keutzer, ECCV 2010): following the flow and then
    the backward flow from where it lands must come back, |f + b|^2 <= relative * (|f|^2 +
    |b|^2) + absolute (px^2). Pixels that fail are mostly occluded in the second frame (covered
    by a moving object), where the flow cannot say what they become. `landing`: the flow's
    `landing_index`, if already computed.
    """
    if landing is None:
        landing = landing_index(flow)
    # Per component: numpy's sums over a last axis of 2 cost 3 x the whole check, and gathering
    # from each component's plane costs half of gathering (x, y) rows.
    fx, fy = flow[..., 0], flow[..., 1]
    rx, ry = (back[..., c].ravel().take(landing) for c in (0, 1))
    ex, ey = fx + rx, fy + ry
    error = ex * ex + ey * ey
    scale = (fx * fx + fy * fy) + (rx * rx + ry * ry)
    return error <= relative * scale + absolute
