"""The demo world's scenes: how things move in a planned shot (`mcnn.demo.plan`), and rendering.

A shot is a textured background plane seen by a panning, zooming camera, with the video's
tagged object and sometimes a distractor (an object of another class) or untagged clutter, each
an "actor" moving on its own. Shots come in four kinds, so that every stage of the pipeline has
work to do:
- `moving`: the camera follows the object, which walks (articulated parts, a bending body);
- `static`: the object is fixed to the background, only the camera moves (no motion cue);
- `large`: the object fills most of the frame (motion segments cover too much);
- `exit`: the object leaves the frame part-way through (the tag is false for later frames).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from mcnn.classes import YTO_CLASSES
from mcnn.demo.appearance import (
    CLASS_LOOKS,
    PATTERNS,
    TEXTURE_EXTENT,
    Part,
    background_canvas,
    background_palette,
    object_texture,
    pattern_image,
    random_blob,
    silhouette_area,
    textured_colours,
)
from mcnn.demo.plan import IMAGE, SHOT, VIDEO, ShotPlan, VideoPlan, seeded_rng


@dataclass(eq=False)
class Actor:
    """Something drawn over the background, with its pose for every frame of a shot.

    `position` (T, 2) and `scale` (world pixels per object unit) are in world (background)
    coordinates; `angle` (T,) radians; `articulation` (T,) radians of swing for the parts;
    `bend` (T,) object units of body bending at the frame's phase.
    """

    parts: tuple[Part, ...]
    texture: np.ndarray  # (R, R, 3) float RGB over the object-unit square of TEXTURE_EXTENT
    label: str | None  # class name, None for untagged clutter
    position: np.ndarray
    scale: float
    angle: np.ndarray
    flip: float
    articulation: np.ndarray
    bend: np.ndarray
    bend_phase: np.ndarray


@dataclass(frozen=True)
class Camera:
    """Per frame: world point at the frame centre (T, 2) and zoom (T,) world px per frame px."""

    centre: np.ndarray
    zoom: np.ndarray


def _world_to_frame(camera: Camera, t: int, frame_size: tuple[int, int]) -> np.ndarray:
    """2x3 affine map from world to frame pixels at frame `t`."""
    w, h = frame_size
    z = camera.zoom[t]
    cx, cy = camera.centre[t]
    return np.array([[1 / z, 0, w / 2 - cx / z], [0, 1 / z, h / 2 - cy / z]])


def _object_to_frame(actor: Actor, camera: Camera, t: int, frame_size) -> np.ndarray:
    """2x3 affine map from object units to frame pixels at frame `t` (before articulation)."""
    a = actor.angle[t]
    rotation = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    linear = actor.scale * rotation @ np.diag([actor.flip, 1.0])
    to_world = np.hstack([linear, actor.position[t][:, None]])
    world_to_frame = _world_to_frame(camera, t, frame_size)
    affine = world_to_frame[:, :2] @ to_world
    affine[:, 2] += world_to_frame[:, 2]
    return affine


def _posed_part(part: Part, actor: Actor, t: int) -> np.ndarray:
    points = part.points
    if part.pivot is not None and part.swing:
        # cos(phase) = +-1: legs with phase pi swing against the others (a walking gait).
        a = part.swing * actor.articulation[t] * np.cos(part.phase)
        pivot = np.asarray(part.pivot)
        c, s = np.cos(a), np.sin(a)
        points = (points - pivot) @ np.array([[c, s], [-s, c]]) + pivot
    if actor.bend[t]:
        wave = actor.bend[t] * np.sin(np.pi * points[:, 0] + actor.bend_phase[t])
        points = points + np.stack([np.zeros(len(points)), wave], 1)
    return points


def draw_actor(
    actor: Actor, camera: Camera, t: int, frame_size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Coverage (H, W) float 0..1 (anti-aliased) and colour (H, W, 3) of `actor` at frame `t`."""
    w, h = frame_size
    affine = _object_to_frame(actor, camera, t, frame_size)
    alpha = np.zeros((h, w), np.float32)
    shade = np.ones((h, w), np.float32)
    for part in actor.parts:
        points = _posed_part(part, actor, t) @ affine[:, :2].T + affine[:, 2]
        polygon = [np.round(points * 16).astype(np.int32)]
        cv2.fillPoly(alpha, polygon, 1.0, cv2.LINE_AA, shift=4)
        cv2.fillPoly(shade, polygon, part.shade, cv2.LINE_8, shift=4)
    size = actor.texture.shape[0]
    unit = 2 * TEXTURE_EXTENT / size  # object units per texture pixel
    origin = affine[:, 2] - affine[:, :2] @ [TEXTURE_EXTENT, TEXTURE_EXTENT]
    texture_to_frame = np.hstack([affine[:, :2] * unit, origin[:, None]])
    colour = cv2.warpAffine(
        actor.texture,
        texture_to_frame,
        (w, h),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REFLECT,
    )
    return np.clip(alpha, 0, 1), colour * shade[..., None]


def render_frame(
    background: np.ndarray, camera: Camera, actors: list[Actor], t: int, frame_size
) -> tuple[np.ndarray, list[np.ndarray]]:
    """The frame (H, W, 3) float RGB and each actor's visible mask (after occlusion), bool."""
    w, h = frame_size
    image = cv2.warpAffine(
        background,
        _world_to_frame(camera, t, frame_size),
        (w, h),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REFLECT,
    )
    masks = []
    for actor in actors:
        alpha, colour = draw_actor(actor, camera, t, frame_size)
        image = image * (1 - alpha[..., None]) + colour * alpha[..., None]
        covered = alpha >= 0.5
        masks = [mask & ~covered for mask in masks]
        masks.append(covered)
    return image, masks


def finish_image(rng: np.random.Generator, image: np.ndarray, noise_sigma: float) -> np.ndarray:
    """Float RGB 0..1 -> uint8 with sensor noise."""
    noise = rng.standard_normal(image.shape, dtype=np.float32) * noise_sigma
    return np.clip(image * 255 + noise, 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class VideoLook:
    """What stays the same across a video's shots: background colours and its object."""

    palette: np.ndarray
    texture: np.ndarray
    flip: float
    width_fraction: float


def video_look(params: dict, video: VideoPlan) -> VideoLook:
    rng = seeded_rng(params, VIDEO, YTO_CLASSES.index(video.class_name), video.number)
    look = CLASS_LOOKS[video.class_name]
    return VideoLook(
        palette=background_palette(
            rng,
            params["classes"],
            params["background_palette_size"],
            params["background_class_colour_share"],
            params["hue_jitter"],
        ),
        texture=object_texture(rng, look, params["texture_size"], params["hue_jitter"]),
        flip=float(rng.choice([-1.0, 1.0])),
        width_fraction=float(rng.uniform(params["object_width_min"], params["object_width_max"])),
    )


def _shot_camera(
    rng: np.random.Generator, params: dict, palette: np.ndarray, num_frames: int, pan
) -> tuple[np.ndarray, Camera]:
    """A camera panning by `pan` (2,) px per frame and zooming, over a background made to fit.

    The background plane is generated just large enough for the camera's whole path, so the
    view never runs off its edge (a mirrored border would move against the camera and fake
    object motion).
    """
    w, h = params["frame_width"], params["frame_height"]
    t = np.arange(num_frames)
    zoom = np.exp(rng.uniform(-1, 1) * params["camera_zoom_max"] * t)
    centre = t[:, None] * np.asarray(pan, dtype=float)
    half_view = zoom[:, None] * [w / 2, h / 2]
    margin = 4
    low = (centre - half_view).min(0) - margin
    high = (centre + half_view).max(0) + margin
    canvas_w, canvas_h = np.ceil(high - low).astype(int)
    patches = round(params["background_patches"] * canvas_w * canvas_h / (w * h))
    background = background_canvas(
        rng,
        (canvas_h, canvas_w),
        palette,
        patches,
        params["background_patch_scale"] * max(w, h),
        (params["background_texture_period_min"], params["background_texture_period_max"]),
    )
    return background, Camera(centre=centre - low, zoom=zoom)


def _walk(rng: np.random.Generator, params: dict, num_frames: int, still: bool):
    """Articulation angle (T,), bending (T,) and its phase (T,) of a walking cycle."""
    if still:
        zero = np.zeros(num_frames)
        return zero, zero, zero
    period = rng.uniform(params["articulation_period_min"], params["articulation_period_max"])
    phase = 2 * np.pi * np.arange(num_frames) / period + rng.uniform(0, 2 * np.pi)
    swing = np.deg2rad(params["articulation_deg"]) * np.sin(phase)
    return swing, np.full(num_frames, params["deformation"]), phase


def _frame_path_to_world(camera: Camera, frame_xy: np.ndarray, frame_size) -> np.ndarray:
    """World positions (T, 2) of frame positions (T, 2) under the camera."""
    centre = np.asarray(frame_size, dtype=float) / 2
    return camera.centre + camera.zoom[:, None] * (frame_xy - centre)


def _heading(rng: np.random.Generator) -> np.ndarray:
    """A unit direction within 0.5 rad of horizontal, left or right (objects mostly walk)."""
    angle = rng.uniform(-0.5, 0.5) + (np.pi if rng.random() < 0.5 else 0.0)
    return np.array([np.cos(angle), np.sin(angle)])


def _shot_pan(rng: np.random.Generator, params: dict, kind: str) -> np.ndarray:
    """Camera pan (2,) px per frame. In `moving` and `large` shots the camera follows the
    object, so the background streams past at the object's speed (as in YouTube videos)."""
    if kind in ("moving", "large"):
        return _heading(rng) * rng.uniform(params["object_speed_min"], params["object_speed_max"])
    return rng.uniform(-1, 1, 2) * params["camera_pan_max"]


def _main_actor(
    rng: np.random.Generator,
    params: dict,
    video: VideoPlan,
    look: VideoLook,
    shot: ShotPlan,
    camera: Camera,
) -> Actor:
    w, h = params["frame_width"], params["frame_height"]
    size = (w, h)
    t = np.arange(shot.num_frames)
    scale = look.width_fraction * w / 2  # frame px per object unit at the first frame
    spread = 0.15
    if shot.kind == "large":
        area = rng.uniform(params["large_object_area_min"], params["large_object_area_max"])
        scale = np.sqrt(area * w * h / silhouette_area(video.class_name))
        spread = 0.05
    start = np.array([w, h]) / 2 + rng.uniform(-spread, spread, 2) * [w, h]
    still = shot.kind == "static"
    if still:
        # Fixed to the background, it drifts against the pan: start half a drift ahead so that
        # it crosses the middle of the frame.
        drift = (camera.centre[-1] - camera.centre[0]) / camera.zoom[0]
        world = _frame_path_to_world(camera, (start + drift / 2)[None], size)[0]
        position = np.broadcast_to(world, (shot.num_frames, 2))
    elif shot.kind == "exit":
        heading = _heading(rng)
        exit_after = rng.uniform(params["exit_after_min"], params["exit_after_max"])
        # From up to 0.15 w off-centre to fully out past the far edge.
        distance = (0.65 * w + 1.1 * scale) / abs(heading[0])
        frame_xy = start + t[:, None] * heading * distance / (exit_after * shot.num_frames)
        position = _frame_path_to_world(camera, frame_xy, size)
    else:
        # The camera follows the object, which wanders about its place in the frame.
        period = rng.uniform(2, 4) * shot.num_frames
        phases = rng.uniform(0, 2 * np.pi, 2)
        arc = 2 * np.pi * t / period
        wander = (
            params["object_wander_speed"]
            * period
            / (2 * np.pi)
            * np.stack([np.sin(arc + phases[0]), 0.5 * np.sin(arc + phases[1])], 1)
        )
        position = _frame_path_to_world(camera, start + wander, size)
    articulation, bend, bend_phase = _walk(rng, params, shot.num_frames, still)
    rock = 0.0 if still else np.deg2rad(params["rotation_deg"])
    angle = rng.uniform(-0.15, 0.15) + rock * np.sin(2 * np.pi * t / 30 + rng.uniform(0, 6.3))
    return Actor(
        parts=CLASS_LOOKS[video.class_name].parts,
        texture=look.texture,
        label=video.class_name,
        position=np.ascontiguousarray(position),
        scale=scale * camera.zoom[0],
        angle=angle,
        flip=look.flip,
        articulation=articulation,
        bend=bend,
        bend_phase=bend_phase,
    )


def _wanderer(
    rng: np.random.Generator,
    params: dict,
    camera: Camera,
    num_frames: int,
    parts,
    texture,
    label: str | None,
    width_fraction: float,
) -> Actor:
    """A distractor or clutter actor crossing the frame on its own straight path."""
    w, h = params["frame_width"], params["frame_height"]
    t = np.arange(num_frames)
    start = rng.uniform([0.1 * w, 0.1 * h], [0.9 * w, 0.9 * h])
    heading = rng.uniform(-np.pi, np.pi)
    speed = rng.uniform(params["distractor_speed_min"], params["distractor_speed_max"])
    frame_xy = start + t[:, None] * speed * np.array([np.cos(heading), np.sin(heading)])
    articulation, bend, bend_phase = _walk(rng, params, num_frames, still=False)
    spin = rng.uniform(-1, 1) * np.deg2rad(params["rotation_deg"]) / 10
    return Actor(
        parts=parts,
        texture=texture,
        label=label,
        position=_frame_path_to_world(camera, frame_xy, (w, h)),
        scale=width_fraction * w / 2 * camera.zoom[0],
        angle=rng.uniform(-0.3, 0.3) + spin * t,
        flip=float(rng.choice([-1.0, 1.0])),
        articulation=articulation,
        bend=bend,
        bend_phase=bend_phase,
    )


def _clutter(
    rng: np.random.Generator, params: dict, palette: np.ndarray, camera: Camera, num_frames: int
) -> Actor:
    """An untagged blob in background colours and textures, moving on its own."""
    size = params["texture_size"]
    kind = PATTERNS[rng.integers(len(PATTERNS))]
    colours = palette[rng.choice(len(palette), 2, replace=False)]
    texture = textured_colours(
        pattern_image(rng, kind, rng.uniform(4, 16), (size, size)), colours[0], colours[1], 0.6
    )
    width = rng.uniform(params["clutter_width_min"], params["clutter_width_max"])
    parts = (Part(random_blob(rng) * 0.9),)
    return _wanderer(rng, params, camera, num_frames, parts, texture, None, width)


def _extras(
    rng: np.random.Generator, params: dict, look: VideoLook, shot: ShotPlan, camera: Camera
) -> list[Actor]:
    extras = []
    if shot.distractor is not None:
        other = CLASS_LOOKS[shot.distractor]
        texture = object_texture(rng, other, params["texture_size"], params["hue_jitter"])
        width = look.width_fraction * rng.uniform(0.5, 0.9)
        extras.append(
            _wanderer(
                rng, params, camera, shot.num_frames, other.parts, texture, shot.distractor, width
            )
        )
    if shot.clutter:
        extras.append(_clutter(rng, params, look.palette, camera, shot.num_frames))
    return extras


def render_shot(
    params: dict, video: VideoPlan, look: VideoLook, shot: ShotPlan
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Frames of a shot: (RGB uint8 (H, W, 3), the tagged object's visible mask bool (H, W))."""
    rng = seeded_rng(params, SHOT, YTO_CLASSES.index(video.class_name), video.number, shot.k)
    pan = _shot_pan(rng, params, shot.kind)
    background, camera = _shot_camera(rng, params, look.palette, shot.num_frames, pan)
    main = _main_actor(rng, params, video, look, shot, camera)
    extras = _extras(rng, params, look, shot, camera)
    in_front = rng.random(len(extras)) < 0.5
    behind = [a for a, f in zip(extras, in_front, strict=True) if not f]
    actors = behind + [main] + [a for a, f in zip(extras, in_front, strict=True) if f]
    size = (params["frame_width"], params["frame_height"])
    for t in range(shot.num_frames):
        image, masks = render_frame(background, camera, actors, t, size)
        yield finish_image(rng, image, params["noise_sigma"]), masks[len(behind)]


def render_still(params: dict, index: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """A VOC-style still image of 1-2 objects and maybe clutter.

    Returns the RGB uint8 image, a label map (0 = background, k = the k-th returned class) and
    the classes visible in it, in `classes` order.
    """
    rng = seeded_rng(params, IMAGE, index)
    classes = params["classes"]
    palette = background_palette(
        rng,
        classes,
        params["background_palette_size"],
        params["background_class_colour_share"],
        params["hue_jitter"],
    )
    background, camera = _shot_camera(rng, params, palette, 1, (0.0, 0.0))
    names = [classes[rng.integers(len(classes))]]
    if rng.random() < params["voc_second_object_probability"]:
        names.append(classes[rng.integers(len(classes))])
    actors = []
    for name in names:
        look = CLASS_LOOKS[name]
        texture = object_texture(rng, look, params["texture_size"], params["hue_jitter"])
        width = rng.uniform(params["object_width_min"], params["object_width_max"])
        # A one-frame walk: a still caught at a random point of the walking cycle.
        actors.append(_wanderer(rng, params, camera, 1, look.parts, texture, name, width))
    if rng.random() < params["voc_clutter_probability"]:
        actors.insert(rng.integers(len(actors) + 1), _clutter(rng, params, palette, camera, 1))
    size = (params["frame_width"], params["frame_height"])
    image, masks = render_frame(background, camera, actors, 0, size)
    present = sorted(
        {a.label for a, m in zip(actors, masks, strict=True) if a.label and m.any()},
        key=list(classes).index,
    )
    label_map = np.zeros(masks[0].shape, np.uint8)
    for actor, mask in zip(actors, masks, strict=True):
        if actor.label in present:
            label_map[mask] = present.index(actor.label) + 1
    return finish_image(rng, image, params["noise_sigma"]), label_map, present
