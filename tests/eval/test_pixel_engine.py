"""The pixel engine: its rule, and clips of stored frames through the real clip path and the
real answer parser."""

from __future__ import annotations

import numpy as np
import pytest

from agent.eval.labels import LabelSet
from agent.eval.pixel_engine import PixelEngine, question_colour, reasoning_text, showing
from streams.buffer.frames import FrameRecord
from streams.picture.overlay import STRIP_HEIGHT
from tests.eval.records import FPS, QUESTIONS, RED, first_showing, window


def test_a_question_names_its_colour_or_none() -> None:
    assert question_colour("Is a RED car parked here?") == "red"
    assert question_colour("Is there a blue spill, or a green one?") == "blue"
    assert question_colour("Is anything purple?") is None
    assert question_colour("Is the door open?") is None


def test_a_frame_shows_a_colour_above_a_share_of_its_picture_not_its_strip() -> None:
    frames = np.full((3, 252 + STRIP_HEIGHT, 448, 3), 128, dtype=np.uint8)
    frames[1, 10:30, 10:30] = (230, 20, 20)  # 400 px: 0.35 % of the picture
    frames[2, 10:20, 10:30] = (230, 20, 20)  # 200 px: too few
    frames[2, 252:, :] = (230, 20, 20)  # the whole strip: not the picture
    assert showing(frames, "red").tolist() == [False, True, False]
    assert showing(frames, "green").tolist() == [False, False, False]


async def test_evidence_starts_at_the_first_stored_frame_that_shows_the_object(
    bundled: LabelSet, passes_records: list[FrameRecord]
) -> None:
    """The object enters at the labelled start; the verdict, mapped to wall-clock time by
    the real parser, starts at the first stored frame after it (its 4-FPS sample)."""
    ((start_s, _),) = bundled.events("red-object", "passes")
    records = window(passes_records, start_s - 3.0)
    engine = PixelEngine()
    answer = await engine.verdicts(engine.clip(records, FPS), QUESTIONS)
    assert answer.ok, answer.failure
    red, purple = answer.verdicts
    assert red.detected
    assert red.evidence is not None
    assert red.evidence.start_epoch_s == pytest.approx(
        first_showing(passes_records, start_s).ts, abs=0.05
    )
    assert red.evidence.end_epoch_s == pytest.approx(records[-1].ts, abs=0.05)  # still in view
    assert "red seen from" in red.description
    assert not purple.detected  # a colour the rule does not know is never seen
    assert (engine.verdict_calls, engine.calls_by_camera) == (1, {"passes": 1})


async def test_frames_out_of_order_or_a_wrong_fps_give_wrong_times_the_eval_catches(
    bundled: LabelSet, passes_records: list[FrameRecord]
) -> None:
    """What the engine reads is the frames it is sent: reversed frames or a clip told the
    wrong rate put the evidence seconds away from the truth, past the eval's 0.5 s."""
    ((start_s, _),) = bundled.events("red-object", "passes")
    records = window(passes_records, start_s - 3.0)
    truth = first_showing(passes_records, start_s).ts
    engine = PixelEngine()

    async def evidence_start(frames: list[FrameRecord], fps: float) -> float:
        answer = await engine.verdicts(engine.clip(frames, fps), [RED])
        evidence = answer.verdicts[0].evidence
        assert evidence is not None
        return evidence.start_epoch_s

    assert abs(await evidence_start(records, FPS) - truth) < 0.05
    assert abs(await evidence_start(records[::-1], FPS) - truth) > 0.5
    assert abs(await evidence_start(records, FPS / 2) - truth) > 0.5


async def test_reasoning_describes_what_is_seen_in_clip_seconds(
    stays_records: list[FrameRecord],
) -> None:
    engine = PixelEngine()
    records = window(stays_records, 8.0)  # the red object slides in at ~12 s: clip second ~4
    answer = await engine.reason(engine.clip(records, FPS), 'An alert was raised for "red"')
    assert answer.ok, answer.failure
    assert answer.answer is not None
    assert answer.reasoning is not None
    assert answer.answer.startswith("A red object appears at 4.")
    assert answer.answer.endswith("and stays until 7.75s.")
    assert engine.reason_calls == 1
    frames = np.zeros((2, 10 + STRIP_HEIGHT, 10, 3), dtype=np.uint8)
    assert "No blue object is seen." in reasoning_text(frames, FPS, "Anything blue?")
