"""What the model is asked: system prompts, verdict and reasoning prompts, the verdict schema.

Pure functions. The clip is described by its facts (camera, absolute start, fps, frame
count); the engines put the video before the text, as Cosmos-Reason1 was trained.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

BASE_SYSTEM_PROMPT = "You are a helpful assistant."
# Cosmos-Reason1's reasoning format, verbatim from its model card.
REASONING_SUFFIX = (
    "Answer the question in the following format: "
    "<think>\nyour reasoning\n</think>\n\n<answer>\nyour answer\n</answer>."
)
DESCRIPTION_MAX_CHARS = 120
# The scene caption the archive keeps for every analysed window, asked in the same call.
# Its key cannot be a question id (those start with a letter or digit).
CAPTION_KEY = "_scene"
CAPTION_MAX_CHARS = 200
# Worst case per verdict under the schema: keys, id and numbers (xgrammar bounds their
# digits) take ~200 bytes, the description up to 4 UTF-8 bytes a character, and a
# constrained token is at least one byte; the budget never cuts a verdict off.
VERDICT_STRUCTURE_BYTES = 200
QUESTION_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class Mode(Enum):
    VERDICT = "verdict"
    REASONING = "reasoning"


@dataclass(frozen=True, slots=True)
class Question:
    id: str  # the rule id: the key of its verdict in the answer
    text: str


@dataclass(frozen=True, slots=True)
class ClipFacts:
    camera_id: str
    start_s: float  # wall-clock time of the first frame, epoch seconds
    fps: float
    frame_count: int
    outlined: bool = False  # zones are outlined on the frames
    cropped: bool = False  # the frames show the zones' part of the picture, enlarged

    @property
    def duration_s(self) -> float:
        return self.frame_count / self.fps


@dataclass(frozen=True, slots=True)
class Prompt:
    mode: Mode
    system: str
    text: str  # follows the video in the user turn
    schema: dict[str, Any] | None  # the verdict schema; None in reasoning mode


def system_prompt(mode: Mode) -> str:
    if mode is Mode.REASONING:
        return f"{BASE_SYSTEM_PROMPT} {REASONING_SUFFIX}"
    return BASE_SYSTEM_PROMPT


def clip_preamble(facts: ClipFacts) -> str:
    start = datetime.fromtimestamp(facts.start_s, tz=UTC).isoformat(timespec="milliseconds")
    return (
        f"The video is {facts.duration_s:.2f} s from camera {facts.camera_id}, "
        f"{facts.frame_count} frames sampled at {facts.fps:g} frames per second, "
        f"starting at {start.replace('+00:00', 'Z')}. The number at the bottom of each "
        "frame is its time in seconds since the start of the clip." + _marks_note(facts)
    )


def _marks_note(facts: ClipFacts) -> str:
    note = ""
    if facts.cropped:
        note += " The frames show part of the camera's picture, enlarged."
    if facts.outlined:
        note += (
            " Coloured outlines with a letter label mark areas named in the questions; "
            "they are drawn on the video, not part of the scene."
        )
    return note


def zone_question(question: str, places: list[tuple[str, str]]) -> str:
    """The rule's question about the outlined places, each (label, colour): the model is
    told where to look by what is drawn."""
    if not places:
        return question
    if len(places) == 1:
        label, colour = places[0]
        where = f"the area outlined in {colour} and labelled {label}"
    else:
        listed = [f"{colour} (labelled {label})" for label, colour in places]
        where = f"the areas outlined in {', '.join(listed[:-1])} or {listed[-1]}"
    return f"{question.strip()} Look only inside {where}; ignore anything outside it."


def verdict_prompt(facts: ClipFacts, questions: list[Question]) -> Prompt:
    """One call for all of a camera's questions; the answer is JSON keyed by question id."""
    _check_questions(questions)
    listed = "\n".join(f"- {question.id}: {question.text}" for question in questions)
    text = (
        f"{clip_preamble(facts)}\n\nFirst, under {CAPTION_KEY}, describe the scene in one "
        "sentence: what is where, and who or what does what.\n\n"
        f"Then answer each question about the video:\n{listed}\n\n"
        "For each question id give: detected (true or false), confidence (0 to 1), "
        "evidence_start_s and evidence_end_s (clip seconds where the evidence is seen), "
        "and a one-line description. Reply with JSON only."
    )
    schema = verdict_schema(questions, facts.duration_s)
    return Prompt(Mode.VERDICT, system_prompt(Mode.VERDICT), text, schema)


def reasoning_prompt(facts: ClipFacts, question: str) -> Prompt:
    text = f"{clip_preamble(facts)}\n\n{question.strip()}"
    return Prompt(Mode.REASONING, system_prompt(Mode.REASONING), text, None)


def history_prompt(records: str, question: str) -> Prompt:
    """A question over the archive's records (no video): ``records`` lists the facts
    counted from them and the timestamped captions of the windows retrieved, each tagged
    ``[w<n>]`` so the answer can cite them."""
    text = (
        "Below are records of what security cameras saw: facts counted from every "
        "analysed window of the period (exact: use them for counts and for when something "
        "last or first happened), then the captions of the most relevant windows, each "
        "with its camera and UTC time and tagged [w<n>].\n\n"
        f"{records.strip()}\n\nAnswer from these records only, and cite the windows you "
        "rely on by their tags, like [w2]. If the records do not show it, say so.\n\n"
        f"Question: {question.strip()}"
    )
    return Prompt(Mode.REASONING, system_prompt(Mode.REASONING), text, None)


def verdict_schema(questions: list[Question], duration_s: float) -> dict[str, Any]:
    """JSON schema of a verdict answer: the scene caption, then one verdict per question id.

    The caption comes first so the model describes the clip before it judges it.
    """
    caption = {"type": "string", "maxLength": CAPTION_MAX_CHARS}
    verdicts = {question.id: _one_verdict_schema(duration_s) for question in questions}
    return {
        "type": "object",
        "properties": {CAPTION_KEY: caption, **verdicts},
        "required": [CAPTION_KEY, *verdicts],
        "additionalProperties": False,
    }


def verdict_token_budget(schema: dict[str, Any]) -> int:
    """max_tokens for an answer to ``schema``: enough that the JSON always completes."""
    question_count = sum(1 for key in schema["required"] if key != CAPTION_KEY)
    per_verdict = VERDICT_STRUCTURE_BYTES + 4 * DESCRIPTION_MAX_CHARS
    caption = 16 + 4 * CAPTION_MAX_CHARS
    return 16 + caption + question_count * per_verdict


def _one_verdict_schema(duration_s: float) -> dict[str, Any]:
    seconds = {"type": "number", "minimum": 0, "maximum": round(duration_s, 3)}
    return {
        "type": "object",
        "properties": {
            "detected": {"type": "boolean"},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            "evidence_start_s": seconds,
            "evidence_end_s": seconds,
            "description": {"type": "string", "maxLength": DESCRIPTION_MAX_CHARS},
        },
        "required": [
            "detected",
            "confidence",
            "evidence_start_s",
            "evidence_end_s",
            "description",
        ],
        "additionalProperties": False,
    }


def _check_questions(questions: list[Question]) -> None:
    if not questions:
        raise ValueError("a verdict prompt needs at least one question")
    ids = [question.id for question in questions]
    if len(set(ids)) != len(ids):
        raise ValueError(f"question ids must be unique: {ids}")
    for question_id in ids:
        if re.fullmatch(QUESTION_ID_PATTERN, question_id) is None:
            raise ValueError(f"invalid question id {question_id!r}")
