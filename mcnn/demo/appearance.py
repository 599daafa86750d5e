"""What the demo world looks like: class shapes, object textures, colours and backgrounds.

Each YouTube-Objects class has a silhouette made of polygon parts (some of them swing about a
pivot, like legs or wings) and a texture family (stripes, checks, blotches...). Object colours
are drawn near a class hue, but backgrounds reuse the same hues and texture families, so a
pixel's colour alone does not tell object from background: shape and texture statistics do.

Object geometry lives in "object units": about [-1, 1] along the body, y pointing down.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

#: Object-unit extent covered by an object's texture image (a little beyond the silhouette).
TEXTURE_EXTENT = 1.25


@dataclass(frozen=True, eq=False)
class Part:
    """A polygon of a silhouette; `swing` (a multiple of the articulation angle) about `pivot`."""

    points: np.ndarray  # (N, 2) object units
    shade: float = 1.0
    pivot: tuple[float, float] | None = None
    swing: float = 0.0
    phase: float = 0.0  # 0 or pi: swings with or against the other parts


@dataclass(frozen=True, eq=False)
class ClassLook:
    """The appearance of a class: silhouette, texture family and two HSV colours (0..1)."""

    parts: tuple[Part, ...]
    pattern: str
    frequency: float  # pattern cycles per object unit
    colour: tuple[float, float, float]
    second_colour: tuple[float, float, float]
    contrast: float


def _ellipse(cx, cy, rx, ry, angle_deg=0.0, n=28) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    a = np.deg2rad(angle_deg)
    x, y = rx * np.cos(t), ry * np.sin(t)
    return np.stack([cx + x * np.cos(a) - y * np.sin(a), cy + x * np.sin(a) + y * np.cos(a)], 1)


def _limb(x0, y0, x1, y1, width) -> np.ndarray:
    """A quadrilateral of `width` from (x0, y0) to (x1, y1)."""
    d = np.array([x1 - x0, y1 - y0], dtype=float)
    n = np.array([-d[1], d[0]]) / np.hypot(*d) * width / 2
    a, b = np.array([x0, y0]), np.array([x1, y1])
    return np.stack([a + n, b + n, b - n, a - n])


def _poly(*xy) -> np.ndarray:
    return np.asarray(xy, dtype=float)


def _legs(xs, top, bottom, width, swing, shade=0.9) -> tuple[Part, ...]:
    """Legs hanging from the body at `xs`, alternating in phase (a walk cycle)."""
    return tuple(
        Part(_limb(x, top, x + 0.03, bottom, width), shade, (x, top), swing, np.pi * (i % 2))
        for i, x in enumerate(xs)
    )


def _quadruped_head(x, y, rx, ry, angle=0.0) -> Part:
    return Part(_ellipse(x, y, rx, ry, angle))


CLASS_LOOKS: dict[str, ClassLook] = {
    "aeroplane": ClassLook(
        parts=(
            Part(_poly((-0.05, -0.02), (0.25, -0.02), (-0.15, -0.5), (-0.32, -0.5)), 0.75,
                 (0.1, 0.0), 0.35),
            Part(_ellipse(0.0, 0.0, 1.0, 0.14)),
            Part(_poly((-0.98, -0.02), (-0.72, -0.02), (-0.92, -0.5), (-1.02, -0.5)), 0.9),
            Part(_poly((-1.0, 0.02), (-0.75, 0.02), (-0.95, 0.22), (-1.05, 0.22)), 0.85),
            Part(_poly((-0.1, 0.03), (0.3, 0.03), (-0.2, 0.6), (-0.42, 0.6)), 1.1,
                 (0.1, 0.0), 0.35),
        ),
        pattern="hstripes", frequency=4.0, colour=(0.58, 0.2, 0.85),
        second_colour=(0.6, 0.55, 0.45), contrast=0.55,
    ),
    "bird": ClassLook(
        parts=(
            Part(_poly((-0.4, 0.0), (-0.85, -0.18), (-0.85, 0.18))),
            Part(_ellipse(0.0, 0.05, 0.45, 0.22)),
            Part(_ellipse(0.45, -0.15, 0.17, 0.15)),
            Part(_poly((0.6, -0.19), (0.82, -0.13), (0.6, -0.09)), 0.6),
            Part(_poly((-0.15, -0.05), (0.2, -0.05), (-0.35, -0.75)), 1.1, (0.0, -0.05), 1.6),
        ),
        pattern="speckle", frequency=9.0, colour=(0.14, 0.65, 0.85),
        second_colour=(0.05, 0.5, 0.35), contrast=0.7,
    ),
    "boat": ClassLook(
        parts=(
            Part(_limb(0.0, -0.12, 0.0, -1.0, 0.05), 0.4),
            Part(_poly((0.06, -0.95), (0.06, -0.2), (0.62, -0.2)), 1.25, (0.0, -0.2), 0.2),
            Part(_poly((-0.5, -0.15), (0.2, -0.15), (0.2, 0.1), (-0.5, 0.1)), 0.85),
            Part(_poly((-1.0, 0.1), (1.0, 0.1), (0.75, 0.45), (-0.8, 0.45))),
        ),
        pattern="hstripes", frequency=3.0, colour=(0.53, 0.5, 0.75),
        second_colour=(0.0, 0.05, 0.95), contrast=0.6,
    ),
    "car": ClassLook(
        parts=(
            Part(_poly((-0.55, -0.06), (-0.3, -0.42), (0.3, -0.42), (0.55, -0.06)), 0.8),
            Part(_poly((-1.0, -0.05), (0.92, -0.05), (1.0, 0.1), (1.0, 0.32), (-1.0, 0.32))),
            Part(_ellipse(-0.6, 0.33, 0.2, 0.2), 0.25),
            Part(_ellipse(0.6, 0.33, 0.2, 0.2), 0.25),
        ),
        pattern="checker", frequency=3.5, colour=(0.0, 0.7, 0.8),
        second_colour=(0.95, 0.35, 0.45), contrast=0.5,
    ),
    "cat": ClassLook(
        parts=(
            Part(_limb(-0.55, 0.0, -0.95, -0.45, 0.08), 1.0, (-0.55, 0.0), 1.2),
            *_legs((-0.42, -0.3, 0.25, 0.37), 0.15, 0.6, 0.09, 0.6),
            Part(_ellipse(-0.05, 0.05, 0.6, 0.25)),
            _quadruped_head(0.68, -0.2, 0.25, 0.22),
            Part(_poly((0.5, -0.32), (0.56, -0.56), (0.67, -0.37))),
            Part(_poly((0.72, -0.37), (0.83, -0.56), (0.88, -0.3))),
        ),
        pattern="vstripes", frequency=6.0, colour=(0.08, 0.6, 0.85),
        second_colour=(0.07, 0.55, 0.35), contrast=0.75,
    ),
    "cow": ClassLook(
        parts=(
            Part(_limb(-0.6, -0.1, -0.72, 0.4, 0.05), 0.9, (-0.6, -0.1), 0.5),
            *_legs((-0.45, -0.3, 0.3, 0.45), 0.2, 0.68, 0.12, 0.45),
            Part(_ellipse(0.0, 0.0, 0.62, 0.3)),
            _quadruped_head(0.76, -0.12, 0.2, 0.16, 20.0),
        ),
        pattern="blotches", frequency=2.0, colour=(0.1, 0.1, 0.95),
        second_colour=(0.1, 0.2, 0.15), contrast=0.9,
    ),
    "dog": ClassLook(
        parts=(
            Part(_limb(-0.5, -0.05, -0.82, -0.38, 0.07), 1.0, (-0.5, -0.05), 1.3),
            *_legs((-0.38, -0.25, 0.25, 0.37), 0.15, 0.62, 0.1, 0.7),
            Part(_ellipse(0.0, 0.0, 0.55, 0.23)),
            _quadruped_head(0.6, -0.28, 0.2, 0.17),
            Part(_ellipse(0.8, -0.24, 0.13, 0.07)),
            Part(_poly((0.5, -0.4), (0.55, -0.12), (0.62, -0.38)), 0.7),
        ),
        pattern="noise", frequency=8.0, colour=(0.09, 0.45, 0.7),
        second_colour=(0.08, 0.3, 0.95), contrast=0.6,
    ),
    "horse": ClassLook(
        parts=(
            Part(_limb(-0.58, -0.05, -0.8, 0.4, 0.09), 0.7, (-0.58, -0.05), 0.5),
            *_legs((-0.42, -0.3, 0.3, 0.42), 0.12, 0.82, 0.08, 0.7),
            Part(_ellipse(0.0, 0.0, 0.62, 0.23)),
            Part(_limb(0.42, -0.02, 0.68, -0.48, 0.18)),
            _quadruped_head(0.8, -0.44, 0.23, 0.1, 35.0),
        ),
        pattern="blotches", frequency=1.5, colour=(0.06, 0.6, 0.55),
        second_colour=(0.1, 0.15, 0.9), contrast=0.65,
    ),
    "motorbike": ClassLook(
        parts=(
            Part(_ellipse(-0.6, 0.3, 0.3, 0.3), 0.3),
            Part(_ellipse(0.65, 0.3, 0.3, 0.3), 0.3),
            Part(_poly((-0.6, 0.3), (-0.1, -0.15), (0.5, -0.2), (0.65, 0.3), (0.1, 0.3))),
            Part(_limb(-0.1, -0.2, 0.05, -0.8, 0.2), 0.9, (-0.1, -0.2), 0.15),
            Part(_ellipse(0.08, -0.9, 0.12, 0.12), 0.9),
        ),
        pattern="diagonal", frequency=4.0, colour=(0.75, 0.5, 0.7),
        second_colour=(0.0, 0.0, 0.2), contrast=0.6,
    ),
    "train": ClassLook(
        parts=(
            Part(_poly((-1.0, -0.35), (0.85, -0.35), (1.0, -0.1), (1.0, 0.3), (-1.0, 0.3))),
            Part(_poly((-1.0, -0.42), (0.8, -0.42), (0.85, -0.35), (-1.0, -0.35)), 0.7),
            *(Part(_ellipse(x, 0.32, 0.1, 0.1), 0.25) for x in (-0.8, -0.55, 0.55, 0.8)),
        ),
        pattern="windows", frequency=3.0, colour=(0.33, 0.55, 0.6),
        second_colour=(0.6, 0.3, 0.2), contrast=0.8,
    ),
}  # fmt: skip


@functools.cache
def silhouette_area(class_name: str) -> float:
    """Area of a class's silhouette at rest, in object units squared (rasterised)."""
    per_unit = 64
    side = 2 * TEXTURE_EXTENT * per_unit
    canvas = np.zeros((round(side), round(side)), np.uint8)
    for part in CLASS_LOOKS[class_name].parts:
        points = (part.points + TEXTURE_EXTENT) * per_unit
        cv2.fillPoly(canvas, [np.round(points).astype(np.int32)], 1)
    return float(canvas.sum()) / per_unit**2


PATTERNS = (
    "hstripes",
    "vstripes",
    "diagonal",
    "checker",
    "windows",
    "speckle",
    "blotches",
    "noise",
)


def hsv_to_rgb(hsv: np.ndarray) -> np.ndarray:
    """HSV in 0..1 (..., 3) -> RGB float32 in 0..1 (hue wraps around)."""
    hsv = np.asarray(hsv, dtype=np.float32)
    flat = hsv.reshape(-1, 1, 3).copy()
    flat[..., 0] = np.mod(flat[..., 0], 1.0) * 360.0
    flat[..., 1:] = np.clip(flat[..., 1:], 0.0, 1.0)
    return cv2.cvtColor(flat, cv2.COLOR_HSV2RGB).reshape(hsv.shape)


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cells: float) -> np.ndarray:
    """Band-limited noise in 0..1: a coarse random grid of ~`cells` per side, cubic-upsampled."""
    h, w = shape
    gh = max(2, int(round(cells * h / max(h, w))) + 1)
    gw = max(2, int(round(cells * w / max(h, w))) + 1)
    coarse = rng.random((gh, gw), dtype=np.float32)
    fine = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    lo, hi = fine.min(), fine.max()
    return (fine - lo) / max(hi - lo, 1e-6)


def pattern_image(
    rng: np.random.Generator, kind: str, cycles: float, shape: tuple[int, int]
) -> np.ndarray:
    """A texture pattern in 0..1 of `shape`, with about `cycles` periods across its larger side."""
    h, w = shape
    side = max(h, w)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32) / side
    phase = rng.uniform(0, 2 * np.pi)
    wobble = 0.04 * np.sin(2 * np.pi * rng.uniform(1, 3) * y + phase)

    def wave(coordinate):
        return 0.5 + 0.5 * np.tanh(3 * np.sin(2 * np.pi * cycles * coordinate + phase))

    if kind == "hstripes":
        return wave(y + wobble)
    if kind == "vstripes":
        return wave(x + wobble)
    if kind == "diagonal":
        return wave((x + y) / np.sqrt(2))
    if kind == "checker":
        s = np.sin(2 * np.pi * cycles * x + phase) * np.sin(2 * np.pi * cycles * y + phase)
        return 0.5 + 0.5 * np.tanh(4 * s)
    if kind == "windows":
        fx, fy = np.mod(cycles * x + phase, 1.0), np.mod(cycles * y * 1.5, 1.0)
        return ((fx > 0.25) & (fx < 0.75) & (fy > 0.3) & (fy < 0.7)).astype(np.float32)
    if kind == "speckle":
        # About one dot per period squared, each a blur of a period's fifth.
        dots = (rng.random((h, w)) < (cycles / side) ** 2).astype(np.float32)
        sigma = max(0.6, side / cycles / 5)
        blurred = cv2.GaussianBlur(dots, (0, 0), sigma)
        return np.clip(blurred / max(blurred.max(), 1e-6) * 2.0, 0.0, 1.0)
    if kind == "blotches":
        return 0.5 + 0.5 * np.tanh(8 * (_smooth_noise(rng, shape, 2 * cycles) - 0.5))
    if kind == "noise":
        return _smooth_noise(rng, shape, 4 * cycles)
    raise ValueError(f"unknown texture pattern {kind!r}")


def jitter_hsv(rng: np.random.Generator, hsv, hue_jitter: float) -> np.ndarray:
    """An HSV colour near `hsv`: hue +-hue_jitter, saturation and value +-0.12."""
    jitter = rng.uniform(-1, 1, 3) * np.array([hue_jitter, 0.12, 0.12])
    return np.asarray(hsv, dtype=np.float32) + jitter.astype(np.float32)


def textured_colours(pattern: np.ndarray, colour_hsv, second_hsv, contrast: float) -> np.ndarray:
    """RGB float image (H, W, 3) mixing two colours by `contrast * pattern`."""
    c1, c2 = hsv_to_rgb(np.array(colour_hsv)), hsv_to_rgb(np.array(second_hsv))
    weight = (contrast * pattern)[..., None]
    return (1 - weight) * c1 + weight * c2


def object_texture(
    rng: np.random.Generator, look: ClassLook, size: int, hue_jitter: float
) -> np.ndarray:
    """One instance's texture over [-TEXTURE_EXTENT, TEXTURE_EXTENT]^2 object units, RGB float."""
    cycles = look.frequency * 2 * TEXTURE_EXTENT * rng.uniform(0.85, 1.15)
    pattern = pattern_image(rng, look.pattern, cycles, (size, size))
    return textured_colours(
        pattern,
        jitter_hsv(rng, look.colour, hue_jitter),
        jitter_hsv(rng, look.second_colour, hue_jitter),
        look.contrast,
    )


def random_blob(rng: np.random.Generator, n: int = 20) -> np.ndarray:
    """A random star-shaped polygon of radius about 1 (untagged clutter)."""
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    radius = np.ones(n)
    for k in (2, 3, 4):
        radius += rng.uniform(0, 0.35 / k * 2) * np.cos(k * t + rng.uniform(0, 2 * np.pi))
    radius = np.clip(radius, 0.3, None)
    return np.stack([radius * np.cos(t), radius * np.sin(t)], 1)


def background_palette(
    rng: np.random.Generator, classes, size: int, class_share: float, hue_jitter: float
) -> np.ndarray:
    """(size, 3) HSV colours for a video's backgrounds; a share of them copies class colours."""
    palette = []
    for _ in range(size):
        if rng.random() < class_share:
            look = CLASS_LOOKS[classes[rng.integers(len(classes))]]
            base = look.colour if rng.random() < 0.5 else look.second_colour
            palette.append(jitter_hsv(rng, base, hue_jitter))
        else:
            palette.append(rng.uniform([0, 0.05, 0.25], [1, 0.8, 0.95]).astype(np.float32))
    return np.array(palette, dtype=np.float32)


def background_canvas(
    rng: np.random.Generator,
    shape: tuple[int, int],
    palette: np.ndarray,
    patches: int,
    patch_radius: float,
    period_range: tuple[float, float],
) -> np.ndarray:
    """A textured background (H, W, 3) float RGB: smooth colour field plus textured patches.

    Patches use the objects' texture families with periods of `period_range` pixels, so texture
    alone does not give objects away either; only its combination with shape and colour does.
    """
    h, w = shape
    grid = palette[rng.integers(len(palette), size=(3, max(2, round(3 * w / h))))]
    field = cv2.resize(hsv_to_rgb(grid), (w, h), interpolation=cv2.INTER_CUBIC)
    canvas = np.clip(field, 0, 1)
    for _ in range(patches):
        radius = patch_radius * rng.uniform(0.5, 1.5)
        centre = rng.uniform([0, 0], [w, h])
        if rng.random() < 0.5:
            outline = random_blob(rng) * radius
        else:
            half = radius * rng.uniform(0.4, 1.2, 2)
            outline = _poly((-half[0], -half[1]), (half[0], -half[1]), half, (-half[0], half[1]))
            angle = rng.uniform(0, np.pi)
            rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
            outline = outline @ rotation.T
        outline = outline + centre
        # Only the patch's bounding box (inside the canvas) is textured and blended.
        x0, y0 = np.clip(np.floor(outline.min(0)).astype(int), 0, [w, h])
        x1, y1 = np.clip(np.ceil(outline.max(0)).astype(int) + 1, 0, [w, h])
        colours = palette[rng.choice(len(palette), 2, replace=False)]
        kind = PATTERNS[rng.integers(len(PATTERNS))]
        period, contrast = rng.uniform(*period_range), rng.uniform(0.2, 0.8)
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        alpha = np.zeros((y1 - y0, x1 - x0), np.float32)
        polygon = [np.round((outline - [x0, y0]) * 16).astype(np.int32)]
        cv2.fillPoly(alpha, polygon, 1.0, cv2.LINE_AA, shift=4)
        cycles = max(x1 - x0, y1 - y0) / period
        texture = textured_colours(
            pattern_image(rng, kind, cycles, alpha.shape), colours[0], colours[1], contrast
        )
        region = canvas[y0:y1, x0:x1]
        canvas[y0:y1, x0:x1] = region * (1 - alpha[..., None]) + texture * alpha[..., None]
    grain = _smooth_noise(rng, shape, max(h, w) / 3) - 0.5
    return np.clip(canvas + 0.08 * grain[..., None], 0, 1).astype(np.float32)
