"""Zones through the real clip path: outlines drawn in the stated colour, the crop, and
the pixel engine deciding only from what lies inside the outline it is sent."""

from __future__ import annotations

import cv2
import numpy as np

from agent.engines.clips import pixel_clip
from agent.engines.prompts import Question
from agent.eval.labels import LabelSet
from agent.eval.pixel_engine import PixelEngine
from agent.eval.zone_footage import ZONE_RULE
from agent.pipeline.places import call_marks
from agent.pipeline.rules import Rule
from streams.buffer.frames import FrameRecord
from streams.picture.marks import PALETTE, Marks, marks_for
from streams.picture.overlay import STRIP_HEIGHT
from streams.zones import CameraZones, Zone
from tests.eval.records import frames_of, window

WIDTH, HEIGHT, FPS = 448, 252, 4.0
LANE = Zone(name="lane", points=[(0.05, 0.55), (0.5, 0.55), (0.5, 0.95), (0.05, 0.95)])
DOOR = Zone(name="door", points=[(0.6, 0.1), (0.95, 0.1), (0.95, 0.5), (0.6, 0.5)])
CAMERA = CameraZones(zones=[LANE, DOOR])
IN_LANE = (60, 160)  # x, y of a red box's corner inside the lane
IN_DOOR = (320, 50)


def records(box_at: tuple[int, int] | None, count: int = 8) -> list[FrameRecord]:
    """Stored frames of grey floor with a 30x30 red box at ``box_at`` from frame 2 on."""
    made = []
    for index in range(count):
        picture = np.full((HEIGHT + STRIP_HEIGHT, WIDTH, 3), 128, dtype=np.uint8)
        if box_at is not None and index >= 2:
            x, y = box_at
            picture[y : y + 30, x : x + 30] = (40, 30, 225)  # BGR red
        ok, jpeg = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, 95])
        assert ok
        made.append(
            FrameRecord(
                "dock", 1_750_000_000 + index / FPS, index, 0.0, WIDTH, HEIGHT + 28, jpeg.tobytes()
            )
        )
    return made


async def ask(rule: Rule, frames: list[FrameRecord], marks: Marks | None = None) -> bool:
    """Whether the pixel engine sees the rule's colour, asked as the worker asks."""
    drawn, questions = call_marks([rule], CAMERA)
    engine = PixelEngine()
    answer = await engine.verdicts(
        engine.clip(frames, FPS, drawn if marks is None else marks), questions
    )
    assert answer.ok, answer.failure
    return answer.verdicts[0].detected


LANE_RULE = Rule(id="lane", question="Is a red object in the lane?", zones=["lane"])


async def test_an_event_counts_inside_its_zone_only() -> None:
    assert await ask(LANE_RULE, records(IN_LANE))
    assert not await ask(LANE_RULE, records(IN_DOOR))
    assert not await ask(LANE_RULE, records(None))
    whole = Rule(id="anywhere", question="Is a red object in the picture?")
    assert await ask(whole, records(IN_DOOR))


async def test_a_cropped_clip_is_enlarged_and_still_outlined() -> None:
    cropped = LANE_RULE.model_copy(update={"zone_crop": True})
    drawn, _ = call_marks([cropped], CAMERA)
    assert drawn.crop is not None
    clip = pixel_clip(records(IN_LANE), FPS, drawn)
    height, width = clip.frames.shape[1:3]
    assert (width % 28, (height - STRIP_HEIGHT) % 28) == (0, 0)
    # About the stored picture's pixel count, over a smaller part of the scene.
    assert 0.8 <= width * (height - STRIP_HEIGHT) / (WIDTH * HEIGHT) <= 1.0
    assert clip.facts.cropped
    assert clip.facts.outlined
    assert await ask(cropped, records(IN_LANE))
    assert not await ask(cropped, records(IN_DOOR))


async def test_a_wrong_overlay_or_a_misnamed_colour_is_not_seen() -> None:
    frames = records(IN_LANE)
    assert not await ask(LANE_RULE, frames, Marks())  # no outline drawn
    door_drawn = marks_for([DOOR], crop=False)  # the right colour round the wrong place
    assert not await ask(LANE_RULE, frames, door_drawn)
    engine = PixelEngine()
    drawn, questions = call_marks([LANE_RULE], CAMERA)
    wrong = Question("lane", questions[0].text.replace("magenta", "cyan"))
    answer = await engine.verdicts(engine.clip(frames, FPS, drawn), [wrong])
    assert not answer.verdicts[0].detected


def test_one_call_outlines_each_zone_once_and_names_each_rules_own() -> None:
    door_rule = Rule(id="door", question="Is a red object at the door?", zones=["door", "lane"])
    missing = Rule(id="dock", question="Is a red object on the dock?", zones=["dock"])
    drawn, questions = call_marks([LANE_RULE, door_rule], CAMERA)
    assert [(m.name, m.label, m.colour) for m in drawn.marks] == [
        ("lane", "A", PALETTE[0][0]),
        ("door", "B", PALETTE[1][0]),
    ]
    assert questions[0].text.endswith(
        "Look only inside the area outlined in magenta and labelled A; ignore anything outside it."
    )
    assert "cyan (labelled B) or magenta (labelled A)" in questions[1].text
    assert drawn.crop is None
    assert call_marks([missing], CAMERA)[1][0].text == missing.question  # no zone: as asked


def test_outlines_are_drawn_on_the_clip_in_the_stated_colour_not_on_stored_frames() -> None:
    frames = records(None, count=2)
    stored = [record.jpeg for record in frames]
    clip = pixel_clip(frames, FPS, marks_for([LANE], crop=False))
    picture = clip.frames[0, :HEIGHT]
    left_edge = picture[150:230, round(0.05 * (WIDTH - 1))]
    assert (left_edge == PALETTE[0][1]).all(axis=1).mean() > 0.9
    assert [record.jpeg for record in frames] == stored
    assert not (picture[20:100, 200:260] == PALETTE[0][1]).all(axis=2).any()


async def test_the_bundled_lane_scenes_tell_inside_from_outside_in_the_cropped_clip(
    bundled: LabelSet,
) -> None:
    """In ``lane-out`` the yellow object lies inside the crop around the lane, outside its
    outline: only the outline keeps the lane rule from seeing it."""
    (video,) = [v for v in bundled.file.videos if v.id == "lane-out"]
    rule = next(r for r in bundled.rules() if r.id == ZONE_RULE)
    camera = CameraZones(zones=video.zones, masks=video.masks)
    drawn, questions = call_marks([rule], camera)
    assert drawn.crop is not None
    engine = PixelEngine()
    for scene, expected in (("lane-in", True), ("lane-out", False)):
        frames = window(frames_of(bundled.video_path(scene), 22.0), 13.0)
        answer = await engine.verdicts(engine.clip(frames, FPS, drawn), questions)
        assert answer.verdicts[0].detected is expected, scene
    frames = window(frames_of(bundled.video_path("lane-out"), 22.0), 13.0)
    unplaced = [Question(rule.id, rule.question)]
    answer = await engine.verdicts(engine.clip(frames, FPS, drawn), unplaced)
    assert answer.verdicts[0].detected  # in view: the whole cropped picture shows it
