"""What the archive bench writes: varied captions from templates with a seeded RNG (people
and vehicles, what they do, where, in what light), the verdicts of three rules on each,
search queries in the same words, window records with a share skipped as still, and
real frames to cut thumbnails from (the demo street footage, sized, stamped and encoded
as ingest stores it)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

import av
import cv2
from av.video.reformatter import Interpolation

from agent.pipeline.archive_records import RuleVerdict, WindowRecord
from streams.buffer.frames import FrameRecord
from streams.config import IngestSettings
from streams.ingest.demo import demo_video_path
from streams.picture.overlay import Image3, add_strip, wall_time_text
from streams.picture.sizing import picture_size

T0_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
DAY_MS = 86_400_000
WINDOW_MS = 8_000
RULES = ("person", "vehicle", "loitering")
COLOURS = ("red", "blue", "white", "black", "grey", "green", "yellow", "silver", "brown")
PEOPLE = (
    "a man in a {colour} jacket", "a woman with a {colour} umbrella", "a security guard",
    "a jogger in a {colour} shirt", "a courier carrying a {colour} parcel", "a group of teenagers",
    "a cyclist in a {colour} helmet", "a child with a {colour} backpack", "a dog walker",
    "a couple in {colour} coats", "an elderly man with a cane", "a woman pushing a {colour} pram",
)  # fmt: skip
VEHICLES = (
    "a {colour} sedan", "a {colour} delivery van", "a {colour} pickup truck", "a city bus",
    "a {colour} motorbike", "a {colour} forklift", "a {colour} taxi", "a {colour} hatchback",
)  # fmt: skip
PERSON_ACTIONS = (
    "walks past", "stops at", "crosses in front of", "leaves through", "enters through",
    "runs toward", "looks into", "sits down near", "waits by", "lingers near",
)  # fmt: skip
LOITERING = ("waits by", "lingers near")
VEHICLE_ACTIONS = (
    "parks at", "drives past", "reverses toward", "idles beside", "pulls away from",
    "stops briefly at", "turns in at",
)  # fmt: skip
PLACES = (
    "the front entrance", "the loading dock", "the side gate", "the parking lot",
    "the bus stop", "the shop window", "the crosswalk", "the bike rack", "the garage door",
    "the driveway", "the fence", "the delivery bay",
)  # fmt: skip
CONDITIONS = (
    "in daylight", "under street lights", "in light rain", "on a wet road", "in fog",
    "in low evening sun", "at dusk", "in heavy shadow",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Scene:
    caption: str
    verdicts: tuple[RuleVerdict, ...]


def scene(rng: random.Random) -> Scene:
    """One analysed window: an empty place, one actor, or two."""
    place, condition = rng.choice(PLACES), rng.choice(CONDITIONS)
    if rng.random() < 0.15:
        caption = f"{place.capitalize()} is empty {condition}; nothing moves."
        return Scene(caption, _verdicts(rng, set(), f"Nobody at {place}."))
    actors = [_actor(rng) for _ in range(1 if rng.random() < 0.7 else 2)]
    clauses = [f"{who} {action} {place}" for who, action, _ in actors]
    caption = " while ".join(clauses)
    caption = f"{caption[0].upper()}{caption[1:]} {condition}."
    seen = {kind for _, _, kind in actors} | {"loitering" for _, a, _ in actors if a in LOITERING}
    return Scene(caption, _verdicts(rng, seen, f"{clauses[0][0].upper()}{clauses[0][1:]}."))


def query(rng: random.Random) -> str:
    """A search a user might type: someone or something, sometimes where."""
    who, action, _ = _actor(rng)
    if rng.random() < 0.5:
        return who.removeprefix("a ").removeprefix("an ")
    return f"{who} {action} {rng.choice(PLACES)}"


def _actor(rng: random.Random) -> tuple[str, str, str]:
    """(who, action, rule detected)."""
    if rng.random() < 0.6:
        return (
            rng.choice(PEOPLE).format(colour=rng.choice(COLOURS)),
            rng.choice(PERSON_ACTIONS),
            "person",
        )
    return (
        rng.choice(VEHICLES).format(colour=rng.choice(COLOURS)),
        rng.choice(VEHICLE_ACTIONS),
        "vehicle",
    )


def _verdicts(rng: random.Random, seen: set[str], description: str) -> tuple[RuleVerdict, ...]:
    return tuple(
        RuleVerdict(
            rule,
            rule in seen,
            round(rng.uniform(0.6, 0.99), 2),
            description if rule in seen else f"No {rule} in view.",
        )
        for rule in RULES
    )


@dataclass(frozen=True, slots=True)
class Layout:
    """Where windows sit: ``cameras`` cameras, windows evenly spread over ``days`` days
    from ``first_ms``, a ``still_share`` of them skipped as still."""

    cameras: int
    rows: int
    days: float
    still_share: float
    first_ms: int = T0_MS
    prefix: str = "cam"

    @property
    def per_camera(self) -> int:
        return -(-self.rows // self.cameras)

    @property
    def step_ms(self) -> int:
        return max(WINDOW_MS, int(self.days * DAY_MS) // self.per_camera)

    def camera(self, index: int) -> str:
        return f"{self.prefix}-{index:03d}"


def window_records(
    layout: Layout, rng: random.Random, scenes: list[Scene] | None = None
) -> Iterator[WindowRecord]:
    """``layout.rows`` records, time-major (every camera's window, then the next); an
    analysed one gets a new scene, or one of ``scenes`` when given (a pool reused)."""
    last: dict[str, int] = {}
    for index in range(layout.rows):
        camera = layout.camera(index % layout.cameras)
        start_ms = layout.first_ms + index // layout.cameras * layout.step_ms
        thumbnail_ms = start_ms + WINDOW_MS // 2
        if camera in last and rng.random() < layout.still_share:
            since = f"{camera}:{last[camera]}"
            yield WindowRecord(camera, start_ms, start_ms + WINDOW_MS, "", (), since, thumbnail_ms)
            continue
        picked = rng.choice(scenes) if scenes else scene(rng)
        last[camera] = start_ms
        yield WindowRecord(
            camera, start_ms, start_ms + WINDOW_MS, picked.caption, picked.verdicts, None,
            thumbnail_ms,
        )  # fmt: skip


def demo_frames(count: int, settings: IngestSettings | None = None) -> list[FrameRecord]:
    """``count`` frames spread over the demo footage as ingest stores them: at the stored
    size, the timestamp strip added, JPEG at the configured quality (camera and time are
    placeholders: give each its own with ``dataclasses.replace``)."""
    settings = settings or IngestSettings()
    with av.open(str(demo_video_path())) as container:
        decoded = list(container.decode(video=0))
    frames = []
    for index, frame in enumerate(decoded[:: max(1, len(decoded) // count)][:count]):
        width, height = picture_size(frame.width, frame.height, settings.max_pixels)
        picture: Image3 = frame.reformat(
            width, height, "bgr24", interpolation=Interpolation.AREA
        ).to_ndarray()  # type: ignore[assignment]
        ts = T0_MS / 1000 + index / settings.fps
        stamped = add_strip(picture, wall_time_text(ts), index)
        ok, jpeg = cv2.imencode(".jpg", stamped, [cv2.IMWRITE_JPEG_QUALITY, settings.jpeg_quality])
        if not ok:
            raise RuntimeError("JPEG encoding failed")
        height, width = stamped.shape[:2]
        frames.append(FrameRecord("demo", ts, index, 0.0, width, height, jpeg.tobytes()))
    return frames
