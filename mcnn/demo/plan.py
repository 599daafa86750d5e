"""The demo world's plan: which videos and shots exist, their lengths, kinds and extras.

Shots come in four kinds (`SHOT_KINDS`, see `mcnn.demo.world`). Every random choice of the
world comes from generators seeded by (seed, purpose, indices) (`seeded_rng`), so the same
settings give the same world, and one video does not change when another is added.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mcnn.config import ConfigError

SHOT_KINDS = ("moving", "static", "large", "exit")

# Seed purposes: each kind of random choice draws from its own stream.
PLAN, VIDEO, SHOT, IMAGE = range(4)


@dataclass(frozen=True)
class ShotPlan:
    k: int  # position in its video
    num_frames: int
    kind: str
    distractor: str | None  # class of a distractor object, None for none
    clutter: bool


@dataclass(frozen=True)
class VideoPlan:
    class_name: str
    number: int  # 1-based within the class, as in YouTube-Objects ranges
    split: str  # "train" or "test": which box file its annotations go to
    shots: tuple[ShotPlan, ...]

    @property
    def video_id(self) -> str:
        return video_id(self.class_name, self.number)


def video_id(class_name: str, number: int) -> str:
    """The id `mcnn.datasets` gives a YouTube-Objects video."""
    return f"{class_name}_{number:04d}"


def seeded_rng(params: dict, purpose: int, *indices: int) -> np.random.Generator:
    """The generator of one kind of random choice (`purpose`) for one thing (`indices`)."""
    return np.random.default_rng([params["seed"], purpose, *indices])


def _quota(fraction: float, total: int) -> int:
    """How many of `total` shots get a hard case: at least one whenever the fraction is > 0."""
    return 0 if fraction <= 0 else min(total, max(1, round(fraction * total)))


def plan_world(params: dict) -> list[VideoPlan]:
    """Videos and shots of the world: lengths, kinds and extras, spread evenly by quota."""
    rng = seeded_rng(params, PLAN)
    classes = params["classes"]
    shapes = []
    for class_name in classes:
        for number in range(1, params["videos_per_class"] + 1):
            count = rng.integers(params["shots_per_video_min"], params["shots_per_video_max"] + 1)
            shapes.append((class_name, number, int(count)))
    total = sum(count for *_, count in shapes)

    hard = {
        "static": _quota(params["static_shot_fraction"], total),
        "large": _quota(params["large_shot_fraction"], total),
        "exit": _quota(params["exit_shot_fraction"], total),
    }
    if sum(hard.values()) > total:
        raise ConfigError(
            "config key 'demo_world.static_shot_fraction': with large_shot_fraction and"
            f" exit_shot_fraction it asks for {sum(hard.values())} of the {total} shots"
        )
    kinds = [kind for kind, n in hard.items() for _ in range(n)]
    kinds = rng.permutation(kinds + ["moving"] * (total - len(kinds)))
    with_distractor = _spread(rng, _quota(params["distractor_shot_fraction"], total), total)
    with_clutter = _spread(rng, _quota(params["clutter_shot_fraction"], total), total)

    videos, index = [], 0
    for class_name, number, count in shapes:
        others = [c for c in classes if c != class_name]
        shots = []
        for k in range(count):
            length = rng.integers(params["shot_length_min"], params["shot_length_max"] + 1)
            distractor = others[rng.integers(len(others))] if others else None
            shots.append(
                ShotPlan(
                    k=k,
                    num_frames=int(length),
                    kind=str(kinds[index]),
                    distractor=distractor if with_distractor[index] else None,
                    clutter=bool(with_clutter[index]),
                )
            )
            index += 1
        is_test = number > params["videos_per_class"] - params["test_videos_per_class"]
        videos.append(VideoPlan(class_name, number, "test" if is_test else "train", tuple(shots)))
    return videos


def _spread(rng: np.random.Generator, count: int, total: int) -> np.ndarray:
    flags = np.zeros(total, dtype=bool)
    flags[rng.choice(total, count, replace=False)] = True
    return flags
