"""Motion segmentation of every shot of one video, written to the per-video motion HDF5.

`motion.method` picks how: `fst` segments each shot here, `external` reads precomputed masks
(`mcnn.motion.external`).
"""

from __future__ import annotations

import logging
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from mcnn.core.io import DataError
from mcnn.datasets.frames import read_frames
from mcnn.motion.external import check_pattern, external_shot
from mcnn.motion.flow import resize_to_max_side
from mcnn.motion.fst import segment_shot
from mcnn.motion.store import ShotMotion, write_video_motion

log = logging.getLogger(__name__)


def run(index: str | Path, video_id: str, params: dict, output: str | Path, seed: int) -> None:
    """Segment the shots of `video_id` listed in the shot table `index`; write `output` (.h5).

    A shot that cannot be segmented (unreadable frame, fewer than 2 frames; with external
    masks, a video without a mask folder) is stored with status `failed` and the reason; the
    other shots go on.
    """
    try:
        shots = pd.read_csv(index, keep_default_na=False)
    except (OSError, pd.errors.ParserError) as exc:
        raise DataError(index, f"cannot read the shot table: {exc}") from exc
    if "video_id" not in shots.columns:
        raise DataError(index, "shot table has no video_id column")
    rows = shots[shots["video_id"].astype(str) == str(video_id)]
    if rows.empty:
        raise DataError(index, f"no shots of video {video_id!r}")
    if params["method"] == "external":
        check_pattern(params["external"]["pattern"])

    def segment(row: dict) -> ShotMotion:
        if params["method"] == "external":
            return external_shot(row, params)
        return segment_row(row, params, seed)

    results = [
        segment(row)
        for row in tqdm(rows.to_dict("records"), desc=f"shots of {video_id}", unit="shot")
    ]
    failed = sum(r.status == "failed" for r in results)
    log.info("%s: %d shots segmented, %d failed", video_id, len(results) - failed, failed)
    write_video_motion(output, video_id, results, params, motion_device(params))


def motion_device(params: dict) -> str:
    """The device of the motion step: RAFT's when a flow of `params` uses it, else the CPU."""
    if params["method"] == "external":
        return "cpu"
    flows = [params["flow"], *({**params["flow"], **alt} for alt in params["alternative_flows"])]
    if any(flow["method"] == "raft" for flow in flows):
        from mcnn.motion.raft import raft_device

        return str(raft_device())
    return "cpu"


def segment_row(row: dict, params: dict, seed: int) -> ShotMotion:
    """FST on one shot-table row; DataError (bad frames, too short) becomes a failed ShotMotion."""
    shot_id = row["shot_id"]
    try:
        numbers, frames = read_frames(row)
        original_height = frames[0].shape[0] if frames else 0
        # Shrink as soon as read: only the small frames are kept for the whole shot.
        frames = [resize_to_max_side(f, params["flow"]["max_side"]) for f in frames]
        # A per-shot seed that does not depend on which other shots the video has.
        shot_seed = zlib.crc32(f"{seed}:{shot_id}".encode())
        seg = segment_shot(frames, params, shot_seed, name=shot_id)
        if len(seg.points) > 1:
            log.info(
                "shot %s: FST kept flow %d (%s points %s)",
                shot_id,
                seg.flow,
                params["choose_by"],
                seg.points,
            )
    except DataError as exc:
        log.warning("shot %s failed: %s", shot_id, exc)
        return ShotMotion(
            shot_id=shot_id,
            status="failed",
            reason=str(exc),
            frame_numbers=np.zeros(0, np.int64),
            masks=np.zeros((0, 0, 0), np.uint8),
            boundary=np.zeros((0, 0, 0), np.uint8),
            scale=float("nan"),
        )
    return ShotMotion(
        shot_id=shot_id,
        status="ok",
        reason="",
        frame_numbers=np.asarray(numbers, np.int64),
        masks=seg.masks.astype(np.uint8),
        boundary=np.rint(seg.boundary * 255).astype(np.uint8),
        scale=seg.masks.shape[1] / original_height,
    )
