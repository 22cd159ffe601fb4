"""What the model answered, as typed results: verdicts, reasoning, usage, latency.

Pure functions. Every answer keeps the raw text; one that cannot be parsed or does not
validate is a recorded failure (``failure`` says why), never a guess. Times in the
answer are clip-relative seconds and are mapped back to wall-clock time here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError

from agent.engines.prompts import (
    CAPTION_KEY,
    CAPTION_MAX_CHARS,
    DESCRIPTION_MAX_CHARS,
    ClipFacts,
    Question,
)

_THINK = re.compile(r"<think>(?P<body>.*?)</think>", re.DOTALL)
_ANSWER = re.compile(r"<answer>(?P<body>.*?)</answer>", re.DOTALL)
_SLACK_S = 1e-3


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    video_tokens: int | None  # placeholders the engine expanded for the clip, when known


@dataclass(frozen=True, slots=True)
class Completion:
    """One engine call, before parsing."""

    text: str
    finish_reason: str | None
    usage: Usage
    latency_ms: float


@dataclass(frozen=True, slots=True)
class Evidence:
    start_s: float  # clip seconds
    end_s: float
    start_epoch_s: float  # wall clock
    end_epoch_s: float


@dataclass(frozen=True, slots=True)
class Verdict:
    question_id: str
    detected: bool
    confidence: float
    evidence: Evidence | None  # None when the model gave an interval that ends before it starts
    description: str


@dataclass(frozen=True, slots=True)
class VerdictAnswer:
    verdicts: tuple[Verdict, ...]
    failure: str | None
    completion: Completion
    caption: str = ""  # the scene in one sentence; "" when the answer has none

    @property
    def ok(self) -> bool:
        return self.failure is None


@dataclass(frozen=True, slots=True)
class ReasoningAnswer:
    reasoning: str | None
    answer: str | None
    failure: str | None  # set when the <think>/<answer> format was not followed
    completion: Completion

    @property
    def ok(self) -> bool:
        return self.failure is None


class _VerdictPayload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    detected: StrictBool
    confidence: float = Field(ge=0, le=1)
    evidence_start_s: float = Field(ge=0)
    evidence_end_s: float = Field(ge=0)
    description: str = Field(max_length=DESCRIPTION_MAX_CHARS)


def parse_verdicts(
    completion: Completion, facts: ClipFacts, questions: list[Question]
) -> VerdictAnswer:
    try:
        document = _json_object(completion.text)
        caption = _caption(document.pop(CAPTION_KEY, ""))
        verdicts = _verdicts(document, facts, questions)
    except _ParseError as error:
        return VerdictAnswer(verdicts=(), failure=str(error), completion=completion)
    return VerdictAnswer(verdicts, None, completion, caption)


def parse_reasoning(completion: Completion) -> ReasoningAnswer:
    think = _THINK.search(completion.text)
    answer = _ANSWER.search(completion.text)
    if answer is None:
        failure = _truncated(completion) or "no <answer>…</answer> in the output"
        return ReasoningAnswer(None, None, failure, completion)
    reasoning = think.group("body").strip() if think else None
    return ReasoningAnswer(reasoning, answer.group("body").strip(), None, completion)


class _ParseError(ValueError):
    pass


def _caption(raw: object) -> str:
    """Optional: answers from producers that predate the caption have none."""
    if not isinstance(raw, str):
        raise _ParseError(f"{CAPTION_KEY}: not a string")
    if len(raw) > CAPTION_MAX_CHARS:
        raise _ParseError(f"{CAPTION_KEY}: longer than {CAPTION_MAX_CHARS} characters")
    return _printable(raw)


def _verdicts(
    document: dict[str, object], facts: ClipFacts, questions: list[Question]
) -> tuple[Verdict, ...]:
    expected = {question.id for question in questions}
    missing, extra = expected - document.keys(), document.keys() - expected
    if missing or extra:
        raise _ParseError(f"question ids differ: missing {sorted(missing)}, extra {sorted(extra)}")
    return tuple(_verdict(question.id, document[question.id], facts) for question in questions)


def _json_object(text: str) -> dict[str, object]:
    try:
        # strict=False: xgrammar's JSON grammar lets raw control characters into strings;
        # the structure is still exact, so accept them and drop them from descriptions.
        document = json.loads(text, strict=False)
    except json.JSONDecodeError as error:
        raise _ParseError(f"not JSON: {error.msg} at character {error.pos}") from None
    if not isinstance(document, dict):
        raise _ParseError("the answer is JSON but not an object")
    return document


def _verdict(question_id: str, raw: object, facts: ClipFacts) -> Verdict:
    try:
        payload = _VerdictPayload.model_validate(raw)
    except ValidationError as error:
        first = error.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        raise _ParseError(f"verdict {question_id}: {where}: {first['msg']}") from None
    return Verdict(
        question_id=question_id,
        detected=payload.detected,
        confidence=payload.confidence,
        evidence=_evidence(payload, facts, question_id),
        description=_printable(payload.description),
    )


def _evidence(payload: _VerdictPayload, facts: ClipFacts, question_id: str) -> Evidence | None:
    start, end = payload.evidence_start_s, payload.evidence_end_s
    if end > facts.duration_s + _SLACK_S:
        raise _ParseError(f"verdict {question_id}: evidence ends after the clip ({end} s)")
    if end < start:
        return None
    return Evidence(start, end, facts.start_s + start, facts.start_s + end)


def _printable(text: str) -> str:
    return "".join(char for char in text if char.isprintable()).strip()


def _truncated(completion: Completion) -> str | None:
    if completion.finish_reason == "length":
        return "the output was cut off at max_tokens before an <answer>"
    return None
