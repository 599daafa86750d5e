"""A figure of FST's stages on sampled frames of one shot, to see where a segmentation goes wrong.

Rows are frames; columns: frame | flow (colour wheel: hue = direction, brightness = speed) |
motion boundaries | inside-outside map | location prior | appearance p(fg | colour) | final
mask | ground truth (when the shot has masks). Everything is drawn at FST's working size.
"""

from __future__ import annotations

import logging
import zlib
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from mcnn.core.io import DataError, write_image
from mcnn.datasets.frames import read_frames, read_mask
from mcnn.motion.flow import resize_to_max_side
from mcnn.motion.fst import ShotSegmentation, segment_shot

log = logging.getLogger(__name__)

HEADER = 22  # pixels of the title strip above each column


def flow_colours(flow: np.ndarray) -> np.ndarray:
    """RGB uint8 colour-wheel picture of a flow field, speed scaled to its 99th percentile."""
    magnitude, angle = cv2.cartToPolar(flow[..., 0], flow[..., 1])
    top = max(float(np.percentile(magnitude, 99)), 1e-6)
    hsv = np.zeros((*flow.shape[:2], 3), np.uint8)
    hsv[..., 0] = (angle * 90 / np.pi).astype(np.uint8)  # OpenCV hue runs 0..179
    hsv[..., 1] = 255
    hsv[..., 2] = np.clip(magnitude / top * 255, 0, 255).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def heat(values: np.ndarray) -> np.ndarray:
    """RGB uint8 picture of a [0, 1] map (viridis-like colour map of OpenCV)."""
    grey = np.clip(values * 255, 0, 255).astype(np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(grey, cv2.COLORMAP_VIRIDIS), cv2.COLOR_BGR2RGB)


def overlay(frame: np.ndarray, mask: np.ndarray, colour=(255, 40, 40)) -> np.ndarray:
    """The frame with `mask` tinted and outlined."""
    out = frame.astype(np.float32)
    out[mask] = 0.5 * out[mask] + 0.5 * np.asarray(colour, np.float32)
    out = out.astype(np.uint8)
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(out, contours, -1, (255, 255, 0), 1)
    return out


def _titled(panel: np.ndarray, title: str) -> np.ndarray:
    strip = np.full((HEADER, panel.shape[1], 3), 255, np.uint8)
    cv2.putText(strip, title, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([strip, panel])


def sampled_indices(n_frames: int, count: int) -> list[int]:
    """`count` frame positions spread evenly over the shot (all of them if it is shorter)."""
    return sorted({int(round(i)) for i in np.linspace(0, n_frames - 1, min(count, n_frames))})


def stage_figure(
    frames: list[np.ndarray],
    cfg: dict,
    seed: int,
    count: int,
    truth: dict[int, np.ndarray] | None = None,
    name: str = "shot",
) -> np.ndarray:
    """RGB figure of the stages on `count` frames of a shot; `truth`: frame position -> mask."""
    small = [resize_to_max_side(f, cfg["flow"]["max_side"]) for f in frames]
    seg = segment_shot(small, cfg, seed, name=name, keep_stages=True)
    return draw_stages(small, seg, cfg, sampled_indices(len(frames), count), truth)


def draw_stages(
    small: list[np.ndarray],
    seg: ShotSegmentation,
    cfg: dict,
    indices: list[int],
    truth: dict[int, np.ndarray] | None = None,
) -> np.ndarray:
    """RGB figure of the stages of `seg` (made with `keep_stages`) on the frames `indices` of
    the shot's frames at FST's working size, `small`."""
    st = seg.stages
    h, w = small[0].shape[:2]
    own_flow = list(st.forward) + [st.backward[-1]]  # as FST: the last frame's flow is backward
    rows = []
    for t in indices:
        labels = st.superpixels.labels[t]
        panels = [
            (f"frame {t}", small[t]),
            (
                f"flow {seg.flow} ({cfg['choose_by']} {seg.points})"
                if len(seg.points) > 1
                else "flow",
                flow_colours(own_flow[t]),
            ),
            ("motion boundaries", heat(seg.boundary[t])),
            ("inside-outside", heat(st.inside[t].astype(np.float32))),
            ("location prior", heat(st.location[labels])),
            ("appearance p(fg)", heat(st.appearance[labels])),
            ("mask", overlay(small[t], seg.masks[t])),
        ]
        if truth is not None:
            if t in truth:
                gt = cv2.resize(truth[t].astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST)
                iou = (seg.masks[t] & (gt > 0)).sum() / max((seg.masks[t] | (gt > 0)).sum(), 1)
                panels.append((f"truth (IoU {iou:.2f})", overlay(small[t], gt > 0, (40, 200, 40))))
            else:
                panels.append(("no truth", np.full_like(small[t], 255)))
        rows.append(np.concatenate([_titled(p, title) for title, p in panels], axis=1))
    return np.concatenate(rows, axis=0)


def run(
    index: str | Path, video_id: str, cfg: dict, count: int, seed: int, output: str | Path
) -> None:
    """Figure of the longest shot of `video_id` (shot table `index`) written to `output` (PNG)."""
    try:
        shots = pd.read_csv(index, keep_default_na=False)
    except (OSError, pd.errors.ParserError) as exc:
        raise DataError(index, f"cannot read the shot table: {exc}") from exc
    rows = shots[shots["video_id"].astype(str) == str(video_id)]
    if rows.empty:
        raise DataError(index, f"no shots of video {video_id!r} (motion.figures.videos)")
    row = rows.assign(n=rows["last_frame"] - rows["first_frame"]).sort_values("n").iloc[-1]
    row = row.drop("n").to_dict()
    numbers, frames = read_frames(row)
    truth = None
    if row["mask_path"]:
        truth = {}
        for t in sampled_indices(len(frames), count):
            try:
                truth[t] = read_mask(row, int(numbers[t])) > 0
            except DataError:  # ground truth of some frames only (e.g. every 20th in FBMS)
                continue
    shot_seed = zlib.crc32(f"{seed}:{row['shot_id']}".encode())
    figure = stage_figure(frames, cfg, shot_seed, count, truth, name=row["shot_id"])
    log.info("%s: figure of shot %s, %d frames", video_id, row["shot_id"], len(frames))
    write_image(output, figure)
