"""Training data: the items of a stage (shots, groups of tagged images) and their cropped batches.

Data order: epoch e visits the items in the permutation drawn from (seed, e); batch g (global
index, `iteration * world_size + rank`) draws its crop, mirror and label seeds from (seed, g).
The resume position is therefore just the iteration count.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import pandas as pd

from mcnn.core.io import DataError


@dataclass(frozen=True)
class Item:
    """One mini-batch source: a shot of a sample store, or a fixed group of tagged images."""

    key: str
    tags: tuple[tuple[int, ...], ...]  # label values per member (one member for a shot)
    store: int = -1  # index into TrainingData.stores, shots only
    shot_id: str = ""
    image_rows: tuple[int, ...] = ()  # rows of TrainingData.images, images only


@dataclass
class Batch:
    key: str
    frames: np.ndarray  # (B, crop, crop, 3) uint8, network input
    small_frames: np.ndarray  # (B, s, s, 3) uint8 at the label size
    small_masks: np.ndarray  # (B, s, s) uint8 motion masks at the label size (0 for images)
    groups: list[tuple[int, int, tuple[int, ...], str]]  # (start, stop, tags, strategy)
    seed: tuple[int, ...]
    # (B, s, s) uint8 ground-truth masks at the label size, for labels_quality.csv only
    small_truth: np.ndarray | None = None


def tags_to_labels(names: Sequence[str], classes: Sequence[str], where: str) -> tuple[int, ...]:
    """Class names -> label values (class k is label k+1); unknown names raise DataError."""
    unknown = [name for name in names if name not in classes]
    if unknown:
        raise DataError(where, f"tags {unknown} are not in the configured classes {list(classes)}")
    return tuple(sorted(classes.index(name) + 1 for name in names))


def split_tags(value) -> list[str]:
    return [] if not isinstance(value, str) else [t for t in value.split(";") if t]


def read_selection(path: str | os.PathLike) -> set[tuple[str, str]]:
    """(dataset, shot_id) of the shots marked `selected` in a select-shots table."""
    try:
        table = pd.read_csv(path, dtype={"dataset": str, "shot_id": str})
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(path, f"selection table cannot be read: {exc}") from exc
    missing = {"dataset", "shot_id", "selected"} - set(table.columns)
    if missing:
        raise DataError(path, f"selection table lacks columns {sorted(missing)}")
    chosen = table[table["selected"].astype(bool)]
    return set(zip(chosen["dataset"], chosen["shot_id"], strict=True))


class TrainingData:
    """The items of one training stage and how to turn an item into a cropped batch."""

    def __init__(
        self,
        sample_paths: Sequence[str | os.PathLike],
        classes: Sequence[str],
        train_cfg: dict,
        strategy: str,
        selection: set[tuple[str, str]] | None = None,
        image_index: pd.DataFrame | None = None,
        image_index_path: str = "",
        images_per_batch: int = 10,
        seed: int = 0,
    ):
        from mcnn.shots.samples import SampleStore

        self.classes = list(classes)
        self.crop = train_cfg["crop"]
        self.mirror = train_cfg["mirror"]
        self.scales = tuple(train_cfg["scales"])
        self.background_weight = train_cfg["background_weight"]
        self.label_side = math.ceil(self.crop / train_cfg["label_stride"])
        self.strategy = strategy
        self.stores = [SampleStore(path) for path in sample_paths]
        self.items: list[Item] = []
        for store_index, (path, store) in enumerate(zip(sample_paths, self.stores, strict=True)):
            for shot in store.shot_table().sort_values("shot_id").itertuples():
                if selection is not None and (shot.dataset, shot.shot_id) not in selection:
                    continue
                where = f"{path} shot {shot.shot_id}"
                tags = tags_to_labels(split_tags(shot.labels), self.classes, where)
                if not tags:
                    raise DataError(path, f"shot {shot.shot_id} has no video tag to train with")
                key = f"{shot.dataset}/{shot.shot_id}"
                self.items.append(Item(key, (tags,), store=store_index, shot_id=shot.shot_id))
        if selection is not None and not self.items:
            raise DataError(
                sample_paths[0] if sample_paths else "", "no selected shot is in the samples"
            )
        self.images = pd.DataFrame()
        if image_index is not None:
            self.images = image_index.reset_index(drop=True)
            self.items += self._image_items(image_index_path, images_per_batch, seed)
        if not self.items:
            raise DataError(", ".join(map(str, sample_paths)), "no training shot or image")

    def _image_items(self, path: str, per_batch: int, seed: int) -> list[Item]:
        tags = [
            tags_to_labels(split_tags(value), self.classes, f"{path} image {row}")
            for row, value in enumerate(self.images["labels"])
        ]
        # Fixed, seeded groups: a group of images plays the role of one shot's frames.
        order = np.random.default_rng([seed, 2]).permutation(len(self.images))
        items = []
        for start in range(0, len(order), per_batch):
            rows = tuple(int(r) for r in order[start : start + per_batch])
            ids = "+".join(str(self.images.at[r, "shot_id"]) for r in rows[:2])
            key = f"images/{ids}{'+...' if len(rows) > 2 else ''}"
            items.append(Item(key, tuple(tags[r] for r in rows), image_rows=rows))
        return items

    def class_weights(self) -> np.ndarray:
        """Loss weight per label: min_j num_j / num_l for classes (paper 4.2); background's is
        `background_weight` (1 in the paper).

        num_l counts training shots (and images) tagged with l; a class without any cannot
        appear in the latent labels, so its weight is irrelevant and left at 1.
        """
        counts = np.zeros(1 + len(self.classes))
        for item in self.items:
            for tags in item.tags:
                counts[list(tags)] += 1
        weights = np.ones_like(counts)
        weights[0] = self.background_weight
        present = counts[1:] > 0
        if present.any():
            weights[1:][present] = counts[1:][present].min() / counts[1:][present]
        return weights.astype(np.float32)

    def item_at(self, global_index: int, seed: int) -> Item:
        epoch, position = divmod(global_index, len(self.items))
        order = np.random.default_rng([seed, 1, epoch]).permutation(len(self.items))
        return self.items[order[position]]

    def batch(self, global_index: int, seed: int, video_strategy: str) -> Batch:
        item = self.item_at(global_index, seed)
        return self.batch_of(item, (seed, global_index), video_strategy)

    def batch_of(self, item: Item, key: tuple[int, ...], video_strategy: str) -> Batch:
        """`item`'s batch, its crop drawn from (key[0], 3, *key[1:]) and its label seed
        (key[0], 4, *key[1:]) (`batch` uses key = (seed, global index))."""
        rng = np.random.default_rng([key[0], 3, *key[1:]])
        if item.image_rows:
            crops = [self._crop(self._read_image(row), None, rng) for row in item.image_rows]
            frames = np.concatenate([c[0] for c in crops])
            masks = np.zeros(frames.shape[:3], np.uint8)
            groups = [(i, i + 1, tags, "em_adapt") for i, tags in enumerate(item.tags)]
        else:
            sample = self.stores[item.store].read(item.shot_id)
            masks = sample.masks
            if sample.truth is not None:  # cropped with the masks as a second channel
                masks = np.stack([masks, sample.truth], axis=-1)
            frames, masks = self._crop(sample.frames, masks, rng)
            groups = [(0, len(frames), item.tags[0], video_strategy)]
        size = (self.label_side, self.label_side)
        small_frames = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames])
        small_masks = np.stack(
            [cv2.resize(m, size, interpolation=cv2.INTER_NEAREST) for m in masks]
        )
        small_truth = None
        if small_masks.ndim == 4:
            small_masks, small_truth = small_masks[..., 0], small_masks[..., 1]
        seed_key = (key[0], 4, *key[1:])
        return Batch(item.key, frames, small_frames, small_masks, groups, seed_key, small_truth)

    def _read_image(self, row: int) -> np.ndarray:
        from mcnn.datasets.frames import read_frames

        record = self.images.iloc[row]
        _, images = read_frames(record)
        return images[0][None]

    def _crop(self, frames: np.ndarray, masks: np.ndarray | None, rng: np.random.Generator):
        """One random rescale, square crop and mirror shared by all frames.

        The rescale factor is drawn from `scales` (no draw for a single one, so a run without
        scale augmentation keeps its random stream); frames still smaller than the crop are
        upscaled to fit it. `masks` (N, H, W) or (N, H, W, C) (several planes cropped alike),
        None for images.
        """
        height, width = frames.shape[1:3]
        scale = self.scales[int(rng.integers(len(self.scales))) if len(self.scales) > 1 else 0]
        scale = max(scale, self.crop / min(height, width))
        if scale != 1:
            size = (max(self.crop, round(width * scale)), max(self.crop, round(height * scale)))
            frames = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_LINEAR) for f in frames])
            if masks is not None:
                masks = np.stack(
                    [cv2.resize(m, size, interpolation=cv2.INTER_NEAREST) for m in masks]
                )
            height, width = frames.shape[1:3]
        y = int(rng.integers(0, height - self.crop + 1))
        x = int(rng.integers(0, width - self.crop + 1))
        window = np.s_[:, y : y + self.crop, x : x + self.crop]
        frames = frames[window]
        masks = masks[window] if masks is not None else np.zeros(frames.shape[:3], np.uint8)
        if self.mirror and rng.random() < 0.5:
            frames, masks = frames[:, :, ::-1], masks[:, :, ::-1]
        return np.ascontiguousarray(frames), np.ascontiguousarray(masks)


def read_image_index(path: str | os.PathLike, split: str) -> pd.DataFrame:
    """Tagged still images (`source` image) of `split` from a shot index CSV."""
    from mcnn.datasets import read_shots

    shots = read_shots(path)
    images = shots[(shots["source"] == "image") & (shots["split"] == split)]
    images = images[images["labels"].fillna("") != ""]
    if images.empty:
        raise DataError(path, f"no tagged image of split {split!r}")
    return images
