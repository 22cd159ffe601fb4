"""The bundled labelled set: synthetic scenes and their labels, made deterministically.

Every scene is drawn on a static textured background (so a still stretch really is still
for motion gating) at 448x252, 25 fps, and encoded as H.264 (yuv420p, no B-frames,
one encoder thread, so the bytes are the same on every run):

- ``stays``: a red object slides in, stays still ~25 s, slides out; a small grey thing
  keeps moving elsewhere, under the motion threshold.
- ``passes``: a striped red object crosses the picture in ~10 s (stripes make its
  motion visible in the grey thumbnail; ~10 s so it always spans two 8-s windows).
- ``slow``: a blue spill grows too slowly for the motion score, and stays.
- ``two``: a green object comes and goes twice, 17 s apart, so two alerts are due.
- ``busy``: people-sized grey and white shapes walking about, nothing coloured.
- ``quiet``: two minutes of the still floor with only the small grey thing moving: what
  most of a camera's day looks like, where gating saves the engine calls.
- ``lane-in``, ``lane-out``, ``lane-busy``: a rule about a zone (``agent.eval.zone_footage``).

The labels are measured, not assumed: each video is decoded after encoding and an event
runs from the first to the last frame where the pixel engine's rule sees its colour.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import av
import cv2
import numpy as np
import yaml

from agent.eval.drawing import (
    FPS,
    HEIGHT,
    WIDTH,
    Draw,
    Picture,
    background,
    box,
    slide,
    small_mover,
    walkers,
)
from agent.eval.pixel_engine import showing
from agent.eval.zone_footage import (
    BUSY_S,
    IN_LANE_AT,
    OUT_OF_LANE_AT,
    SHOWN_S,
    VIDEO_ZONES,
    WHOLE_PICTURE_TWIN,
    ZONE_RULE,
    lane_scene,
)

SEED = 20_250_615
ENCODER_OPTIONS = {"crf": "16", "preset": "ultrafast", "bf": "0", "threads": "1", "g": "50"}
RED, DARK_RED = (225, 30, 35), (150, 10, 14)
# Green as dark as the red: a colour as bright as the floor would not show in the grey
# thumbnail that motion gating reads.
GREEN, BLUE = (20, 130, 40), (30, 70, 210)


class FootageError(RuntimeError):
    """The encoded video does not show what the scene was drawn to show."""


@dataclass(frozen=True, slots=True)
class Scene:
    id: str
    duration_s: float
    colour: str | None  # what its events show; None: nothing may be seen
    events_s: tuple[tuple[float, float], ...]  # as drawn, to within a second; labels are measured
    draw: Draw


@dataclass(frozen=True, slots=True)
class RuleSpec:
    id: str
    question: str
    colour: str
    videos: tuple[str, ...]
    settings: dict[str, object]


RULES = (
    RuleSpec("red-object", "Is a red object in the picture?", "red",
             ("stays", "passes", "busy", "quiet"), {"consecutive": 2}),
    RuleSpec("green-object", "Is a green object in the picture?", "green",
             ("two", "busy"), {"consecutive": 2, "close_after_s": 4.0, "cooldown_s": 0.0}),
    # Motion-gated like the others: the spill grows too slowly for the motion score, so
    # only its change since the last analysed window gets it looked at.
    RuleSpec("blue-spill", "Is there a blue spill on the floor?", "blue",
             ("slow", "busy"), {"consecutive": 2}),
    RuleSpec(ZONE_RULE, "Is a yellow object in the lane?", "yellow",
             ("lane-in", "lane-out", "lane-busy"),
             {"consecutive": 2, "zones": ["lane"], "zone_crop": True}),
    # The lane scene without zones: what motion outside the lane costs a whole-picture rule.
    RuleSpec("yellow-anywhere", "Is a yellow object in the picture?", "yellow",
             (WHOLE_PICTURE_TWIN[0],), {"consecutive": 2}),
)  # fmt: skip


def generate(folder: Path) -> Path:
    """Writes every scene's video and ``labels.yaml`` into ``folder``; returns the YAML."""
    folder.mkdir(parents=True, exist_ok=True)
    events: dict[str, list[list[float]]] = {}
    for scene in scenes():
        path = folder / f"{scene.id}.mp4"
        write_video(path, scene)
        events[scene.id] = measured_events(path, scene)
    labels = folder / "labels.yaml"
    labels.write_text(yaml.safe_dump(_document(events), sort_keys=False, default_flow_style=None))
    return labels


def scenes() -> list[Scene]:
    rng = np.random.default_rng(SEED)
    return [
        Scene("stays", 56.0, "red", ((12.0, 38.0),), _stays(rng)),
        Scene("passes", 48.0, "red", ((14.0, 24.0),), _passes()),
        Scene("slow", 56.0, "blue", ((14.5, 56.0),), _slow()),
        Scene("two", 58.0, "green", ((8.0, 17.0), (33.0, 42.0)), _two()),
        Scene("busy", 50.0, None, (), walkers(rng, 7)),
        Scene("quiet", 120.0, None, (), _quiet(rng)),
        *_lane_scenes(np.random.default_rng([SEED, 2])),
    ]


def _lane_scenes(rng: np.random.Generator) -> list[Scene]:
    return [
        Scene("lane-in", 48.0, "yellow", (SHOWN_S,), lane_scene(rng, IN_LANE_AT)),
        # Yellow, but outside the lane: nothing the lane rule may see, so no events.
        Scene("lane-out", 48.0, None, (), lane_scene(rng, OUT_OF_LANE_AT, trolley=True)),
        Scene("lane-busy", BUSY_S, None, (), lane_scene(rng, None)),
    ]


STILL_SCENES = ("quiet",)  # still but for a small mover: what gating is measured on


def write_video(path: Path, scene: Scene) -> None:
    base = background(np.random.default_rng([SEED, *scene.id.encode()]))
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=FPS, options=ENCODER_OPTIONS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        for index in range(round(scene.duration_s * FPS)):
            picture = base.copy()
            scene.draw(picture, index)
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def decoded_frames(path: Path, wanted: Callable[[int], bool]) -> Iterator[tuple[int, Picture]]:
    """The wanted frames of the video, by index, as RGB as a decoder gives them."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for index, frame in enumerate(container.decode(stream)):
            if wanted(index):
                yield index, cast(Picture, frame.to_ndarray(format="rgb24"))


def measured_events(path: Path, scene: Scene) -> list[list[float]]:
    """Each drawn event as the decoded video shows it: [first, last] frame the rule sees.

    Only the frames within a second of each drawn edge are looked at (that keeps the
    generation fast); the edge must lie inside, with the colour unseen on one side of it
    and seen on the other. The tests check the whole videos."""
    if scene.colour is None:
        return []
    edges = [round(moment * FPS) for event in scene.events_s for moment in event]
    near = {index for edge in edges for index in range(edge - FPS, edge + FPS)}
    seen = _seen(path, scene.colour, near.__contains__)
    events = []
    for start_s, end_s in scene.events_s:
        first = _edge(seen, round(start_s * FPS), rising=True, scene=scene.id)
        last = _edge(seen, round(end_s * FPS), rising=False, scene=scene.id)
        events.append([round(first / FPS, 2), round(last / FPS, 2)])
    return events


def _seen(path: Path, colour: str, wanted: Callable[[int], bool]) -> dict[int, bool]:
    seen = {}
    for index, picture in decoded_frames(path, wanted):
        seen[index] = bool(showing(picture[None], colour, strip_height=0)[0])
    return seen


def _edge(seen: dict[int, bool], drawn: int, rising: bool, scene: str) -> int:
    """The first seen frame of a rising edge near ``drawn`` (the last one of a falling edge)."""
    window = [index for index in sorted(seen) if drawn - FPS <= index < drawn + FPS]
    states = [seen[index] for index in window]
    if not rising:
        window, states = window[::-1], states[::-1]
    hits = [position for position, state in enumerate(states) if state]
    if not hits or not all(states[hits[0] :]) or (states[0] and len(window) == 2 * FPS):
        kind = "start" if rising else "end"
        raise FootageError(f"{scene}: no clean {kind} within a second of frame {drawn}")
    return window[hits[0]]


def _document(events: dict[str, list[list[float]]]) -> dict[str, object]:
    rules = []
    for spec in RULES:
        found = {video: events[video] for video in spec.videos if events.get(video)}
        rules.append({"id": spec.id, "question": spec.question, "videos": list(spec.videos),
                      **spec.settings, "events": found})  # fmt: skip
    twin, played = WHOLE_PICTURE_TWIN
    videos = [_video_entry(scene.id, scene.id) for scene in scenes()]
    return {"videos": [*videos, _video_entry(twin, played)], "rules": rules}


def _video_entry(video: str, plays: str) -> dict[str, object]:
    places = {
        kind: [zone.model_dump(mode="json") for zone in zones]
        for kind, zones in VIDEO_ZONES.get(video, {}).items()
    }
    return {"id": video, "path": f"{plays}.mp4", **places}


# The scenes' drawings.


def _quiet(rng: np.random.Generator) -> Draw:
    return small_mover(rng)


def _stays(rng: np.random.Generator) -> Draw:
    mover = small_mover(rng)

    def draw(picture: Picture, index: int) -> None:
        t = index / FPS
        mover(picture, index)
        x = slide(t, 12.0, 37.0, 110.0, -72.0)
        if x is not None:
            box(picture, x, 120, 72, 72, RED)

    return draw


def _passes() -> Draw:
    width, height, speed = 96, 60, 53.0  # px/s: visible for ~10 s
    stripes = np.zeros((height, width, 3), dtype=np.uint8)
    for column in range(width):
        stripes[:, column] = RED if (column // 14) % 2 == 0 else DARK_RED

    def draw(picture: Picture, index: int) -> None:
        t = index / FPS
        if t >= 14.0:
            box(picture, -width + 6 + (t - 14.0) * speed, 150, width, height, stripes)

    return draw


def _slow() -> Draw:
    def draw(picture: Picture, index: int) -> None:
        t = index / FPS
        radius = min(max(0.0, (t - 12.0) * 3.5), 45.0)  # px: 0.9 px per 4-FPS sample
        if radius >= 1.0:
            axes = (round(radius * 1.4), round(radius))
            cv2.ellipse(picture, (290, 175), axes, 0, 0, 360, BLUE, thickness=-1)

    return draw


def _two() -> Draw:
    def draw(picture: Picture, index: int) -> None:
        t = index / FPS
        for enter_s, leave_s in ((8.0, 16.0), (33.0, 41.0)):
            x = slide(t, enter_s, leave_s, 300.0, WIDTH + 4.0)
            if x is not None:
                box(picture, x, 90, 64, 64, GREEN)

    return draw
