"""SegTrack v1 as bundled with FST: flat `%08d.jpg` frames, masks `GroundTruth/%08d.png`.

The sequences are concatenated in one folder; the `sequences` setting cuts them into shots
(one video each). No class tags (empty labels). Masks are 0/255 with anti-aliased edges, read as
format `binary` (thresholded at 128 by `frames.read_mask`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mcnn.core.io import DataError
from mcnn.datasets._common import FileLister, image_size, path_template, require_dir, shot_row


def read(cfg: dict, classes: Sequence[str]) -> tuple[list[dict], list[dict]]:
    root = require_dir(Path(cfg["root"]), "dataset")
    template = path_template(root, "{frame:08d}.jpg")
    mask_template = path_template(root / "GroundTruth", "{frame:08d}.png")
    lister = FileLister()
    shots = []
    for sequence in cfg["sequences"]:
        name, first, last = sequence["name"], sequence["first"], sequence["last"]
        if last < first:
            raise DataError(root, f"sequence {name}: last frame {last} < first frame {first}")
        numbers = range(first, last + 1)
        lister.require(template, numbers, f"sequence {name}")
        lister.require(mask_template, numbers, f"masks of sequence {name}")
        shots.append(
            shot_row(
                video_id=name,
                k=0,
                labels=[],
                split=cfg["split"],
                source="frames",
                path=template,
                first=first,
                last=last,
                size=image_size(template.format(frame=first)),
                mask_path=mask_template,
                mask_format="binary",
            )
        )
    return shots, []
