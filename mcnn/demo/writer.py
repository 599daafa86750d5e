"""Write the demo world to disk in the layouts the dataset readers read.

```
<root>/world.json                                   manifest: settings, videos, shots, statistics
<root>/youtube_objects/<class>/<8-digit>.jpg        frames, numbered 1.. per class across videos
<root>/youtube_objects/Masks/<class>/<8-digit>.png  tagged object's mask, 0/255 (demo extension)
<root>/youtube_objects/Ranges/ranges_<class>.mat    shots: first frame, last frame, video number
<root>/youtube_objects/GroundTruth/<class>/bb_gt{Training,Test}_<class>.mat
<root>/voc2012/JPEGImages/<id>.jpg, SegmentationClass/<id>.png, ImageSets/Segmentation/*.txt
```
Boxes are (x0, y0, x1, y1) in 0-based pixel indices of the first and last object column / row.
The world is written into a temporary sibling folder renamed onto `root` at the end, so the
folder is the unit of atomicity: a stopped run leaves no half-written world behind.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from tqdm import tqdm

from mcnn.classes import VOC_CLASSES, VOID, voc_palette
from mcnn.config import ConfigError, validate
from mcnn.core.io import DataError, current_umask, write_json
from mcnn.datasets._common import mask_box
from mcnn.datasets.youtube_objects import write_boxes_mat, write_ranges_mat
from mcnn.demo.marker import MARKER, MARKER_TEXT, replace_problem
from mcnn.demo.plan import SHOT_KINDS, plan_world
from mcnn.demo.world import render_shot, render_still, video_look

log = logging.getLogger(__name__)

#: Object area range (fraction of the frame) where the pruning keeps a frame, at its defaults.
_PRUNE = validate({})["shots"]["prune"]
KEPT_AREA = (_PRUNE["min_fg_fraction"], _PRUNE["max_fg_fraction"])


_ORDERED_PAIRS = (
    ("shots_per_video_min", "shots_per_video_max"),
    ("shot_length_min", "shot_length_max"),
    ("object_width_min", "object_width_max"),
    ("large_object_area_min", "large_object_area_max"),
    ("clutter_width_min", "clutter_width_max"),
    ("distractor_speed_min", "distractor_speed_max"),
    ("exit_after_min", "exit_after_max"),
    ("object_speed_min", "object_speed_max"),
    ("articulation_period_min", "articulation_period_max"),
    ("background_texture_period_min", "background_texture_period_max"),
)


def check_params(params: dict) -> None:
    """Constraints between settings that the schema cannot state; ConfigError names the key."""
    for low, high in _ORDERED_PAIRS:
        if params[low] > params[high]:
            raise ConfigError(
                f"config key 'demo_world.{low}': {params[low]} > {high} {params[high]}"
            )
    if params["test_videos_per_class"] > params["videos_per_class"]:
        raise ConfigError("config key 'demo_world.test_videos_per_class': exceeds videos_per_class")


def run(params: dict, output: str | os.PathLike | None = None) -> dict:
    """Generate the world of `params` (the validated `demo_world` section) into `output`.

    `output` defaults to `params["root"]`; an existing demo world there (one holding the
    MARKER file) is replaced, any other non-empty folder is left alone (DataError). Returns the
    manifest written to `world.json`.
    """
    check_params(params)
    output = Path(output or params["root"])
    check_replaceable(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=output.parent, prefix=f".{output.name}."))
    staging.chmod(0o777 & ~current_umask())  # mkdtemp's 0700 would hide the world from the group
    try:
        manifest = write_world(params, staging)
        (staging / MARKER).write_text(MARKER_TEXT)
        _replace_folder(staging, output)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest


def check_replaceable(folder: Path) -> None:
    """DataError unless `folder` is absent, empty or a demo world (it holds the MARKER file)."""
    problem = replace_problem(folder)
    if problem:
        raise DataError(folder, problem)


def _replace_folder(new: Path, target: Path) -> None:
    check_replaceable(target)  # again: the folder may have been filled while the world was made
    if target.exists():
        old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.old."))
        os.replace(target, old / target.name)
        os.replace(new, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(new, target)


def _write_jpeg(path: Path, rgb: np.ndarray, quality: int) -> None:
    # Written straight into the staging folder: its final rename makes the world atomic.
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    if not cv2.imwrite(str(path), bgr, [cv2.IMWRITE_JPEG_QUALITY, quality]):
        raise DataError(path, "could not be written")


def _write_png(path: Path, image: np.ndarray) -> None:
    if not cv2.imwrite(str(path), image):
        raise DataError(path, "could not be written")


def _write_shot(params, video, look, shot, first: int, yto: Path, boxes: list) -> dict:
    """Write a shot's frames and masks from frame number `first`, append its box entries to
    `boxes` and return its manifest entry."""
    name = video.class_name
    frame_dir, mask_dir = yto / name, yto / "Masks" / name
    areas = []
    for t, (image, mask) in enumerate(render_shot(params, video, look, shot)):
        frame = first + t
        _write_jpeg(frame_dir / f"{frame:08d}.jpg", image, params["jpeg_quality"])
        _write_png(mask_dir / f"{frame:08d}.png", mask.astype(np.uint8) * 255)
        areas.append(int(mask.sum()))
        if t % params["box_every"] == 0 and areas[-1] >= params["box_min_pixels"]:
            boxes.append((f"{name}{frame:08d}", [mask_box(mask)]))
    fractions = np.array(areas) / (params["frame_width"] * params["frame_height"])
    return {
        "shot": shot.k,
        "first_frame": first,
        "last_frame": first + shot.num_frames - 1,
        "kind": shot.kind,
        "distractor": shot.distractor,
        "clutter": shot.clutter,
        "frames_with_object": int(np.count_nonzero(areas)),
        "frames_in_kept_area_range": int(
            ((fractions >= KEPT_AREA[0]) & (fractions <= KEPT_AREA[1])).sum()
        ),
        "mean_object_area": round(float(fractions.mean()), 4),
    }


def write_world(params: dict, root: Path) -> dict:
    """Render and write every file of the world under `root`; returns the manifest."""
    videos = plan_world(params)
    yto = root / "youtube_objects"
    manifest_videos = []
    ranges = {name: [] for name in params["classes"]}
    boxes = {name: {"train": [], "test": []} for name in params["classes"]}
    progress = tqdm(total=sum(len(v.shots) for v in videos), desc="demo shots", unit="shot")
    for video in videos:
        name = video.class_name
        (yto / name).mkdir(parents=True, exist_ok=True)
        (yto / "Masks" / name).mkdir(parents=True, exist_ok=True)
        look = video_look(params, video)
        shot_entries = []
        for shot in video.shots:
            # Frame numbers count up per class, across its videos, from 1.
            first = ranges[name][-1][1] + 1 if ranges[name] else 1
            entry = _write_shot(params, video, look, shot, first, yto, boxes[name][video.split])
            ranges[name].append((first, entry["last_frame"], video.number))
            shot_entries.append(entry)
            progress.update()
        manifest_videos.append(
            {
                "class": name,
                "video": video.number,
                "video_id": video.video_id,
                "split": video.split,
                "shots": shot_entries,
            }
        )
    progress.close()

    for name in params["classes"]:
        ranges_path = yto / "Ranges" / f"ranges_{name}.mat"
        write_ranges_mat(ranges_path, np.array(ranges[name]).T)
        ground_truth = yto / "GroundTruth" / name
        box_paths = [ground_truth / f"bb_gt{s}_{name}.mat" for s in ("Training", "Test")]
        write_boxes_mat(box_paths[0], boxes[name]["train"])
        write_boxes_mat(box_paths[1], boxes[name]["test"])

    images = write_voc(params, root / "voc2012")
    shots = [s for v in manifest_videos for s in v["shots"]]
    total_frames = sum(s["last_frame"] - s["first_frame"] + 1 for s in shots)
    kept_frames = sum(s["frames_in_kept_area_range"] for s in shots)
    stats = {
        "videos": len(manifest_videos),
        "shots": len(shots),
        "frames": total_frames,
        "shots_by_kind": {k: sum(s["kind"] == k for s in shots) for k in SHOT_KINDS},
        "shots_with_distractor": sum(s["distractor"] is not None for s in shots),
        "shots_with_clutter": sum(s["clutter"] for s in shots),
        "boxes": sum(len(b) for per_class in boxes.values() for b in per_class.values()),
        "frames_in_kept_area_range": round(kept_frames / max(total_frames, 1), 4),
        "voc_images": {split: len(ids) for split, ids in images.items()},
    }
    manifest = {
        "seed": params["seed"],
        "classes": params["classes"],
        "params": params,
        "kept_area_range": KEPT_AREA,
        "videos": manifest_videos,
        "voc_images": images,
        "stats": stats,
    }
    write_json(root / "world.json", manifest)
    log.info(
        "demo world: %d videos, %d shots (%s), %d frames (%.0f%% with the object's area in"
        " 2.5-50%%), %d boxes, VOC images %s",
        stats["videos"],
        stats["shots"],
        stats["shots_by_kind"],
        total_frames,
        100 * stats["frames_in_kept_area_range"],
        stats["boxes"],
        stats["voc_images"],
    )
    return manifest


def void_outlines(labels: np.ndarray, radius: int) -> np.ndarray:
    """`labels` with VOC's void band: 255 where the (2r+1)^2 neighbourhood holds two labels."""
    if radius == 0:
        return labels
    kernel = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    outline = cv2.dilate(labels, kernel) != cv2.erode(labels, kernel)
    return np.where(outline, np.uint8(VOID), labels)


def write_voc(params: dict, root: Path) -> dict[str, list[str]]:
    """The VOC-layout image set; returns the image ids of each split."""
    for folder in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    counts = {"train": params["voc_train_images"], "val": params["voc_val_images"]}
    palette = voc_palette().ravel().tolist()
    ids, index = {}, 0
    for split, count in counts.items():
        ids[split] = []
        for _ in tqdm(range(count), desc=f"demo VOC {split}", unit="image"):
            image, label_map, present = render_still(params, index)
            lookup = np.array([0] + [VOC_CLASSES.index(n) for n in present], np.uint8)
            labels = void_outlines(lookup[label_map], params["voc_void_border_px"])
            image_id = f"demo_{index:06d}"
            _write_jpeg(root / "JPEGImages" / f"{image_id}.jpg", image, params["jpeg_quality"])
            mask = Image.fromarray(labels, mode="P")
            mask.putpalette(palette)
            mask.save(root / "SegmentationClass" / f"{image_id}.png", format="PNG")
            ids[split].append(image_id)
            index += 1
        list_text = "".join(f"{image_id}\n" for image_id in ids[split])
        (root / "ImageSets" / "Segmentation" / f"{split}.txt").write_text(list_text)
    return ids
