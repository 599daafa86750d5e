"""Raw video files (mp4, avi, mov, mkv, ...): shots found by PySceneDetect's ContentDetector.

Every video under the root (recursively, by extension) is one video; its tag comes from a CSV
(`file,label`, `file` relative to the root). Frames are numbered by their 0-based decoding index
and decoded with OpenCV (`frames.read_frames`), the same decoder the detector runs on.
A `<video stem>.boxes.txt` beside a video holds its boxes, one LaSOT line per frame
(`lasot_boxes`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from scenedetect import ContentDetector, SceneManager, open_video
from scenedetect.video_stream import VideoOpenFailure

from mcnn.core.io import DataError
from mcnn.datasets._common import (
    parse_labels,
    read_tag_csv,
    require_dir,
    safe_id,
    shot_row,
)
from mcnn.datasets.frames import decode_video_frames
from mcnn.datasets.lasot_boxes import sidecar_box_rows, sidecar_path

log = logging.getLogger(__name__)


def detect_shots(path: Path, threshold: float, min_shot_length: int) -> list[tuple[int, int]]:
    """Inclusive (first, last) 0-based frame ranges of the shots of a video file."""
    try:
        video = open_video(str(path), backend="opencv")
    except (VideoOpenFailure, OSError) as exc:
        raise DataError(path, f"video cannot be opened: {exc}") from exc
    manager = SceneManager()
    manager.add_detector(ContentDetector(threshold=threshold, min_scene_len=min_shot_length))
    num_frames = manager.detect_scenes(video, show_progress=False)
    if num_frames == 0:
        raise DataError(path, "video has no decodable frame")
    scenes = manager.get_scene_list(start_in_scene=True)
    # Scene ends are exclusive; the last one is clipped to what was actually decoded.
    return [(start.frame_num, min(end.frame_num, num_frames) - 1) for start, end in scenes]


def read(cfg: dict, classes: Sequence[str]) -> tuple[list[dict], list[dict], list[dict]]:
    root = require_dir(Path(cfg["root"]), "dataset")
    suffixes = {f".{ext.lower()}" for ext in cfg["extensions"]}
    tags_path = root / cfg["labels_file"]
    every = sorted(p for p in root.rglob("*") if p.is_file())
    files = [p for p in every if p.suffix.lower() in suffixes]
    if not files:
        raise DataError(root, f"no video file ({', '.join(sorted(suffixes))})")
    # Said, not silent: a clip with an unlisted extension would otherwise just be missing.
    sidecars = {sidecar_path(p) for p in files}
    not_videos = [p for p in every if p not in files and p != tags_path and p not in sidecars]
    skipped = [
        {"path": str(p), "reason": f"not a video file (extensions: {', '.join(sorted(suffixes))})"}
        for p in not_videos
    ]
    if skipped:
        log.warning(
            "%s: skipped %d files that are not videos: %s",
            root, len(skipped), ", ".join(p.relative_to(root).as_posix() for p in not_videos),
        )  # fmt: skip
    tags = read_tag_csv(tags_path, "file") if cfg["labels_file"] else {}
    relative = [file.relative_to(root).as_posix() for file in files]
    unknown = sorted(tags.keys() - set(relative))
    if unknown:
        raise DataError(tags_path, f"lists {unknown[0]!r}, which is not a video file under {root}")
    video_of_name: dict[str, str] = {}
    shots, boxes = [], []
    for file, name in zip(files, relative, strict=True):
        if cfg["labels_file"] and name not in tags:
            raise DataError(tags_path, f"no row for video file {name!r}")
        labels = parse_labels(tags.get(name, ""), classes, tags_path)
        video_id = safe_id(str(Path(name).with_suffix("")))
        if video_id in video_of_name:
            raise DataError(file, f"video id {video_id!r} also names {video_of_name[video_id]}")
        video_of_name[video_id] = name
        ranges = detect_shots(file, cfg["shot_threshold"], cfg["min_shot_length"])
        log.info("%s: %d shots", name, len(ranges))
        _, (first_frame,) = decode_video_frames(file, [0])
        size = (first_frame.shape[1], first_frame.shape[0])
        for k, (first, last) in enumerate(ranges):
            shots.append(
                shot_row(
                    video_id=video_id,
                    k=k,
                    labels=labels,
                    split=cfg["split"],
                    source="video",
                    path=str(file.resolve()),
                    first=first,
                    last=last,
                    size=size,
                )
            )
        if sidecar_path(file).is_file():
            boxes += sidecar_box_rows(sidecar_path(file), video_id, ranges, labels, size)
    return shots, boxes, skipped
