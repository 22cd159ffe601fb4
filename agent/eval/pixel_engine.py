"""A test engine that decides from the pixels it is sent, through the real clip path.

The rule: a question names a colour (red, yellow, green or blue; the first such word; a
question without one is never detected). A frame shows the colour when at least
``MIN_SHARE`` of its picture (the 28-px timestamp strip excluded) has that hue, saturated
and bright enough. A question about outlined places ("Look only inside the area outlined
in magenta ...") counts only the pixels inside the outlines of those colours that each
frame shows: no outline of the named colour, no detection, so a missing or misplaced
overlay, a wrong crop or a colour the prompt misnames is seen in the alerts. The question
is detected when at least one frame of the clip shows it; the evidence runs from the
first to the last showing frame, in clip seconds (index / fps). The answer is the JSON
the real model is asked for, parsed by the real parser, so clip times are mapped to
wall-clock time by the production code: frames in the wrong order, a wrong fps or a
wrong clip start give wrong alert times, and the eval sees it.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import Counter
from collections.abc import Iterable, Sequence

import cv2
import numpy as np
import numpy.typing as npt

from agent.engines.answers import (
    Completion,
    ReasoningAnswer,
    Usage,
    VerdictAnswer,
    parse_reasoning,
    parse_verdicts,
)
from agent.engines.budget import PromptBudget
from agent.engines.clips import Clip, ClipError, Frames, PixelClip, pixel_clip
from agent.engines.prompts import CAPTION_KEY, Question, history_prompt
from agent.engines.tokens import ByteBound
from streams.buffer.frames import FrameRecord
from streams.picture.marks import NO_MARKS, PALETTE, Marks
from streams.picture.overlay import STRIP_HEIGHT

# OpenCV hue is 0..179 (degrees / 2); red wraps around 0.
HUE_BANDS: dict[str, tuple[tuple[int, int], ...]] = {
    "red": ((0, 8), (172, 179)),
    "yellow": ((20, 35),),
    "green": ((45, 85),),
    "blue": ((100, 130),),
}
MIN_SATURATION = 120
MIN_VALUE = 70
MIN_SHARE = 0.003  # of the picture: 339 pixels of 448x252
CONFIDENCE = 0.9
_WORD = re.compile(r"[a-z]+")
_PLACES = re.compile(r"Look only inside (.*?); ignore")
OUTLINE_TOLERANCE = 40  # per channel, around the palette colour
PATCH = 28
CONTEXT_TOKENS = 32768  # as a Cosmos-Reason1 server would be run; prompts counted in bytes
REASONING_TOKENS = 1024


def question_colour(text: str) -> str | None:
    """The first colour word of the question, or None (never detected)."""
    return next((word for word in _WORD.findall(text.lower()) if word in HUE_BANDS), None)


def question_places(text: str) -> list[str]:
    """The outline colours a question about places names (none: the whole picture)."""
    match = _PLACES.search(text)
    if match is None:
        return []
    words = _WORD.findall(match.group(1).lower())
    return [name for name, _ in PALETTE if name in words]


def colour_shares(
    frames: Frames,
    colours: Iterable[str],
    strip_height: int = STRIP_HEIGHT,
    within: npt.NDArray[np.bool_] | None = None,
) -> dict[str, npt.NDArray[np.float64]]:
    """Per colour, per frame (RGB, ``strip_height`` px of strip below the picture): the
    share of the picture in the colour's hue band, saturated and bright enough; only
    the pixels ``within`` (frames, height, width) count when it is given."""
    pictures = np.ascontiguousarray(frames[:, : frames.shape[1] - strip_height])
    count, height, width = pictures.shape[:3]
    hsv = cv2.cvtColor(pictures.reshape(count * height, width, 3), cv2.COLOR_RGB2HSV)
    shares = {}
    for colour in colours:
        mask = np.zeros(hsv.shape[:2], dtype=np.uint8)
        for low, high in HUE_BANDS[colour]:
            band = cv2.inRange(hsv, (low, MIN_SATURATION, MIN_VALUE), (high, 255, 255))
            mask = cv2.bitwise_or(mask, band)
        seen = mask.reshape(count, height, width) > 0
        if within is not None:
            seen &= within
        shares[colour] = np.count_nonzero(seen.reshape(count, -1), axis=1) / (height * width)
    return shares


def outlined_regions(
    frames: Frames, colours: list[str], strip_height: int = STRIP_HEIGHT
) -> npt.NDArray[np.bool_]:
    """Per frame, the pixels inside the outlines drawn in these palette colours."""
    rgb = dict(PALETTE)
    pictures = frames[:, : frames.shape[1] - strip_height]
    regions = np.zeros(pictures.shape[:3], dtype=bool)
    for index, picture in enumerate(pictures):
        filled = np.zeros(picture.shape[:2], dtype=np.uint8)
        for colour in colours:
            wanted = np.array(rgb[colour], dtype=np.int16)
            near = np.abs(picture.astype(np.int16) - wanted).max(axis=2) <= OUTLINE_TOLERANCE
            contours, _ = cv2.findContours(
                near.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
            )
            cv2.drawContours(filled, contours, -1, 1, thickness=cv2.FILLED)
        regions[index] = filled > 0
    return regions


def showing(
    frames: Frames,
    colour: str,
    strip_height: int = STRIP_HEIGHT,
    within: npt.NDArray[np.bool_] | None = None,
) -> npt.NDArray[np.bool_]:
    """Per frame: does its picture (the part ``within``, when given) show the colour?"""
    return colour_shares(frames, [colour], strip_height, within)[colour] >= MIN_SHARE


def seen_span(
    frames: Frames, colour: str, places: list[str] | None = None
) -> tuple[int, int] | None:
    """Indices of the first and last frame showing the colour (inside the outlines of the
    ``places`` colours, when named), if any."""
    within = outlined_regions(frames, places) if places else None
    indices = np.flatnonzero(showing(frames, colour, within=within))
    return (int(indices[0]), int(indices[-1])) if indices.size else None


def verdict_text(frames: Frames, fps: float, questions: Sequence[Question]) -> str:
    """The verdict answer as the model is asked to write it: the scene caption (the
    colours seen), then JSON keyed by question id."""
    verdicts = {question.id: _verdict(frames, fps, question.text) for question in questions}
    return json.dumps({CAPTION_KEY: scene_caption(frames), **verdicts}, separators=(",", ":"))


def scene_caption(frames: Frames) -> str:
    """What is seen, in the words this engine has: the colours some frame shows."""
    shares = colour_shares(frames, HUE_BANDS)
    seen = [colour for colour, share in shares.items() if (share >= MIN_SHARE).any()]
    if not seen:
        return "A scene with no coloured object."
    return f"A scene with a {' and a '.join(seen)} object."


def reasoning_text(frames: Frames, fps: float, question: str) -> str:
    """A Cosmos-style reasoning answer describing each colour asked about (or every one)."""
    asked = [word for word in _WORD.findall(question.lower()) if word in HUE_BANDS]
    colours = list(dict.fromkeys(asked)) or list(HUE_BANDS)
    sentences = [_sentence(frames, fps, colour) for colour in colours]
    think = (
        f"I look for {', '.join(colours)} in each of the {len(frames)} frames "
        f"({fps:g} per second), reading the time at the bottom of each frame."
    )
    return f"<think>\n{think}\n</think>\n\n<answer>\n{' '.join(sentences)}\n</answer>"


_TAGGED_WINDOW = re.compile(
    r"^\[(w\d+)\] camera \S+, .+? UTC to .+? UTC: (.*) \(rules detected", re.M
)
_RULE_FACT = re.compile(
    r'^- rule \S+ \("([^"\n]*)"\) on camera (\S+): detected (\d+) separate times'
    r".*, last until ([^\[\n]+? UTC)( \[w\d+\])?\.$",
    re.M,
)


def records_reasoning_text(prompt_text: str) -> str:
    """A reasoning answer over the archive's records (``history_prompt``'s text): per
    colour asked about (or every one), the count and last time from the facts of a rule
    asking about that colour, else the tagged windows whose caption names it."""
    records, _, question = prompt_text.rpartition("\n\nQuestion: ")
    asked = [word for word in _WORD.findall(question.lower()) if word in HUE_BANDS]
    colours = list(dict.fromkeys(asked)) or list(HUE_BANDS)
    sentences = [_records_sentence(records, colour) for colour in colours]
    think = f"I read the facts and the captions for {', '.join(colours)}."
    return f"<think>\n{think}\n</think>\n\n<answer>\n{' '.join(sentences)}\n</answer>"


def _records_sentence(records: str, colour: str) -> str:
    for fact in _RULE_FACT.finditer(records):
        if question_colour(fact.group(1)) == colour:
            camera, times, last, tag = fact.group(2, 3, 4, 5)
            return (
                f"A {colour} object was detected {times} separate times on camera {camera}, "
                f"the last until {last}{tag or ''}."
            )
    tags = [
        f"[{match.group(1)}]"
        for match in _TAGGED_WINDOW.finditer(records)
        if colour in _WORD.findall(match.group(2).lower())
    ]
    if not tags:
        return f"No {colour} object appears in the records."
    return f"A {colour} object is seen in {', '.join(tags)}."


def usage_for(frame_count: int, height: int, width: int, text: str) -> Usage:
    """What a Qwen2.5-VL call of this clip would roughly cost, for the counters."""
    video = (frame_count // 2) * (height // PATCH) * (width // PATCH)
    return Usage(
        prompt_tokens=video + 120, completion_tokens=max(1, len(text) // 4), video_tokens=video
    )


def _verdict(frames: Frames, fps: float, text: str) -> dict[str, object]:
    colour = question_colour(text)
    span = seen_span(frames, colour, question_places(text)) if colour else None
    if span is None:
        what = f"no {colour} in the picture" if colour else "no colour named in the question"
        return _payload(False, 0.0, 0.0, what)
    start_s, end_s = span[0] / fps, span[1] / fps
    return _payload(True, start_s, end_s, f"{colour} seen from {start_s:.2f}s to {end_s:.2f}s")


def _payload(detected: bool, start_s: float, end_s: float, description: str) -> dict[str, object]:
    return {
        "detected": detected,
        "confidence": CONFIDENCE,
        "evidence_start_s": round(start_s, 3),
        "evidence_end_s": round(end_s, 3),
        "description": description,
    }


def _sentence(frames: Frames, fps: float, colour: str) -> str:
    span = seen_span(frames, colour)
    if span is None:
        return f"No {colour} object is seen."
    return (
        f"A {colour} object appears at {span[0] / fps:.2f}s and stays until {span[1] / fps:.2f}s."
    )


class PixelEngine:
    """The ``Engine`` protocol over the pixel rule; counts its calls."""

    def __init__(self, context_tokens: int = CONTEXT_TOKENS) -> None:
        self.budget = PromptBudget(context_tokens, REASONING_TOKENS, ByteBound())
        self.verdict_calls = 0
        self.reason_calls = 0
        self.calls_by_camera: Counter[str] = Counter()

    def clip(self, records: list[FrameRecord], fps: float, marks: Marks = NO_MARKS) -> Clip:
        return pixel_clip(records, fps, marks)

    async def verdicts(self, clip: Clip, questions: list[Question]) -> VerdictAnswer:
        pixels = _pixels(clip)
        self.verdict_calls += 1
        self.calls_by_camera[pixels.facts.camera_id] += 1
        started = time.perf_counter()
        text = await asyncio.to_thread(verdict_text, pixels.frames, pixels.facts.fps, questions)
        return parse_verdicts(_completion(text, pixels, started), pixels.facts, questions)

    async def reason(self, clip: Clip, question: str) -> ReasoningAnswer:
        pixels = _pixels(clip)
        self.reason_calls += 1
        started = time.perf_counter()
        text = await asyncio.to_thread(reasoning_text, pixels.frames, pixels.facts.fps, question)
        return parse_reasoning(_completion(text, pixels, started))

    async def reason_over_records(self, records: str, question: str) -> ReasoningAnswer:
        self.reason_calls += 1
        started = time.perf_counter()
        text = records_reasoning_text(history_prompt(records, question).text)
        usage = Usage(max(1, len(records) // 4), max(1, len(text) // 4), None)
        return parse_reasoning(Completion(text, "stop", usage, _ms_since(started)))

    async def close(self) -> None:
        return None


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _completion(text: str, clip: PixelClip, started: float) -> Completion:
    usage = usage_for(clip.facts.frame_count, clip.height, clip.width, text)
    return Completion(text, "stop", usage, _ms_since(started))


def _pixels(clip: Clip) -> PixelClip:
    if not isinstance(clip, PixelClip):
        raise ClipError("the pixel engine takes a PixelClip (build it with engine.clip)")
    return clip
