"""Segment images or a video with a trained checkpoint: label PNGs and colour overlays.

    predict("model.pt", "photos/", "out/")   # out/<name>.png, out/<name>_overlay.jpg
    predict("model.pt", "clip.mp4", "out/")  # out/frame_000000.png, ...

Label PNGs are palette images. When every class of the checkpoint is a VOC class, pixel values
are VOC label values (aeroplane = 1, ..., tvmonitor = 20) with the VOC colour map, so the files
read like VOC ground truth; otherwise they are the network's labels (0 = background, classes[k]
= k + 1) coloured by `mcnn.classes.label_palette`. `classes.json` beside them names each value.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from tqdm import tqdm

from mcnn.classes import VOC_CLASSES, label_palette, voc_palette
from mcnn.core.io import DataError, atomic_path, read_rgb, write_csv, write_image, write_json
from mcnn.models import load_model, predict_probs

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
OVERLAY_OPACITY = 0.5
#: failed.csv: the image file (or the video) and, for a video, the frame number.
FAILED_COLUMNS = ["input", "frame", "reason"]
UNDECODABLE = "frame cannot be decoded (OpenCV read failed)"


def pick_device(requested: str | None) -> torch.device:
    """`requested`, or CUDA when available and nothing was asked for."""
    if requested is None:
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise DataError(
            requested,
            "CUDA was asked for but no CUDA GPU is visible to this process "
            "(CUDA_VISIBLE_DEVICES, driver); use cpu to run on the CPU",
        )
    return torch.device(requested)


@torch.no_grad()
def predict_scores(
    model: nn.Module,
    image: np.ndarray,
    scales: Sequence[float] = (1.0,),
    flip: bool = False,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """Softmax scores (K, H, W) of one RGB image at its own size, averaged over scales and flips.

    Each scale's scores are upsampled bilinearly to the original size before averaging.
    """
    height, width = image.shape[:2]
    total = None
    for scale in scales:
        scaled = image
        if scale != 1:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            scaled = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
        batch = np.stack([scaled, scaled[:, ::-1]]) if flip else scaled[None]
        probs = predict_probs(model, batch, device)
        if flip:
            probs = probs[:1] + probs[1:].flip(-1)
        if scale != 1:
            probs = F.interpolate(probs, size=(height, width), mode="bilinear", align_corners=False)
        total = probs[0] if total is None else total + probs[0]
    return total / (len(scales) * (2 if flip else 1))


def output_values(classes: Sequence[str]) -> tuple[np.ndarray, np.ndarray, dict[int, str]]:
    """(lookup label -> PNG value, (256, 3) palette, value -> name) for the PNGs of `classes`."""
    lookup = np.arange(256, dtype=np.uint8)
    if all(name in VOC_CLASSES for name in classes):
        for label, name in enumerate(classes, start=1):
            lookup[label] = VOC_CLASSES.index(name)
        names = {0: "background"} | {VOC_CLASSES.index(n): n for n in classes}
        return lookup, voc_palette(), dict(sorted(names.items()))
    names = {0: "background"} | {label: n for label, n in enumerate(classes, start=1)}
    return lookup, label_palette(classes), names


def write_label_png(path: str | os.PathLike, values: np.ndarray, palette: np.ndarray) -> None:
    """A palette PNG of label values (H, W) uint8, written atomically."""
    # putpalette turns the gray image into a palette image without touching its values
    image = Image.fromarray(np.ascontiguousarray(values, dtype=np.uint8))
    image.putpalette(palette.astype(np.uint8).ravel().tolist())
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")


def overlay(image: np.ndarray, colours: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The image with `colours` blended in where `mask` is set (RGB uint8)."""
    blended = image.astype(np.float32)
    blended[mask] = (1 - OVERLAY_OPACITY) * blended[mask] + OVERLAY_OPACITY * colours[mask]
    return blended.round().astype(np.uint8)


def predict(
    checkpoint: str | os.PathLike,
    input_path: str | os.PathLike,
    output_dir: str | os.PathLike,
    device: str | None = None,
    batch_size: int = 4,
    strict: bool = False,
) -> int:
    """Segment every image of a folder (or one image, or every frame of a video); returns the count.

    Writes `<name>.png` (labels) and `<name>_overlay.jpg` per image (`frame_%06d` for a video),
    `classes.json`, `failed.csv` (each image or video frame that could not be read, and why)
    and `predict.json` (counts and device) into `output_dir`. A failed image or frame does not
    stop the others; the call fails (DataError) only when nothing could be predicted, or, with
    `strict`, when anything failed (every prediction made is kept either way).
    """
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1, got {batch_size}")
    torch_device = pick_device(device)
    model, ckpt = load_model(checkpoint, torch_device)
    lookup, palette, names = output_values(ckpt["classes"])
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    failed: list[dict] = []
    frames, total = _read_input(Path(input_path), failed)
    count = 0
    with tqdm(total=total, desc="predict", unit="image") as progress:
        for names_batch, images in _batches(frames, batch_size):
            labels = predict_probs(model, np.stack(images), torch_device).argmax(1)
            for name, image, label in zip(
                names_batch, images, labels.to(torch.uint8).cpu().numpy(), strict=True
            ):
                values = lookup[label]
                write_label_png(output_dir / f"{name}.png", values, palette)
                write_image(
                    output_dir / f"{name}_overlay.jpg", overlay(image, palette[values], label > 0)
                )
            count += len(images)
            progress.update(len(images))
    with atomic_path(output_dir / "classes.json") as tmp:
        tmp.write_text(json.dumps({str(v): n for v, n in names.items()}, indent=2) + "\n")
    write_csv(output_dir / "failed.csv", pd.DataFrame(failed, columns=FAILED_COLUMNS))
    write_json(
        output_dir / "predict.json",
        {"checkpoint": str(checkpoint), "input": str(input_path), "device": str(torch_device),
         "predicted": count, "failed": len(failed)},
    )  # fmt: skip
    log.info("%d images segmented into %s on %s", count, output_dir, torch_device)
    for row in failed:
        where = f" frame {row['frame']}" if row["frame"] != "" else ""
        log.error("skipped %s%s: %s", row["input"], where, row["reason"])
    if count == 0 or (failed and strict):
        raise DataError(
            input_path,
            f"{count} images or frames predicted (kept in {output_dir}), {len(failed)} could not "
            f"be read (listed in {output_dir / 'failed.csv'})",
        )
    return count


def _read_input(
    path: Path, failed: list[dict]
) -> tuple[Iterator[tuple[str, np.ndarray]], int | None]:
    """(name, RGB frame) pairs of a folder of images, one image or a video, and their count.
    A folder's unreadable images and a video's undecodable frames are skipped and recorded in
    `failed` (rows of FAILED_COLUMNS)."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise DataError(path, f"folder holds no image ({', '.join(IMAGE_SUFFIXES)})")
        return _folder_images(files, failed), len(files)
    if not path.is_file():
        raise DataError(path, "input does not exist")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return iter([(path.stem, read_rgb(path))]), 1
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise DataError(path, "neither an image nor a video that OpenCV can open")
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))  # container metadata: 0 if unknown
    return _video_frames(capture, path, max(count, 0), failed), count if count > 0 else None


def _folder_images(files, failed: list[dict]) -> Iterator[tuple[str, np.ndarray]]:
    for file in files:
        try:
            yield file.stem, read_rgb(file)
        except DataError as error:
            failed.append({"input": str(file), "frame": "", "reason": error.problem})


def _video_frames(
    capture: cv2.VideoCapture, path: Path, count: int, failed: list[dict]
) -> Iterator[tuple[str, np.ndarray]]:
    """The decodable frames of a video, numbered by their place in it. Below the container's
    frame `count` a failed read is an undecodable frame (recorded; the decoder has moved past
    it, so decoding goes on); at or past it, the end of the video."""
    index = 0
    try:
        while True:
            ok, bgr = capture.read()
            if ok:
                yield f"frame_{index:06d}", cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            elif index < count:
                failed.append({"input": str(path), "frame": index, "reason": UNDECODABLE})
            else:
                break
            index += 1
    finally:
        capture.release()


def _batches(
    frames: Iterator[tuple[str, np.ndarray]], batch_size: int
) -> Iterator[tuple[list[str], list[np.ndarray]]]:
    """Runs of at most `batch_size` consecutive frames of one size (a batch shares its shape)."""
    names: list[str] = []
    images: list[np.ndarray] = []
    for name, image in frames:
        if images and (len(images) == batch_size or image.shape != images[0].shape):
            yield names, images
            names, images = [], []
        names.append(name)
        images.append(image)
    if images:
        yield names, images
