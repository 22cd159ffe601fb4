"""Answer parsing: verdicts mapped to wall-clock time, reasoning split, failures recorded."""

from __future__ import annotations

import json

import pytest

from agent.engines.answers import Completion, Usage, parse_reasoning, parse_verdicts
from agent.engines.prompts import CAPTION_KEY, CAPTION_MAX_CHARS, ClipFacts, Question

FACTS = ClipFacts(camera_id="dock-1", start_s=1_750_000_000.0, fps=4.0, frame_count=32)
QUESTIONS = [Question("person", "Is a person on the dock?"), Question("fire", "Is there fire?")]


def completion(text: str, finish_reason: str = "stop") -> Completion:
    return Completion(text, finish_reason, Usage(2400, 50, 2304), latency_ms=812.5)


def verdict(detected: bool = True, start: float = 1.25, end: float = 3.5) -> dict[str, object]:
    return {
        "detected": detected, "confidence": 0.8, "evidence_start_s": start,
        "evidence_end_s": end, "description": " a person walks in ",
    }  # fmt: skip


def test_verdicts_parse_and_map_evidence_to_wall_clock() -> None:
    text = json.dumps({"person": verdict(), "fire": verdict(detected=False, start=0, end=0)})
    answer = parse_verdicts(completion(text), FACTS, QUESTIONS)
    assert answer.ok
    person, fire = answer.verdicts
    assert (person.question_id, person.detected, person.confidence) == ("person", True, 0.8)
    assert person.description == "a person walks in"
    assert person.evidence is not None
    assert person.evidence.start_epoch_s == FACTS.start_s + 1.25
    assert person.evidence.end_epoch_s == FACTS.start_s + 3.5
    assert fire.detected is False
    assert answer.completion.usage.video_tokens == 2304
    assert answer.completion.latency_ms == 812.5


def test_the_scene_caption_is_kept_and_optional_for_older_producers() -> None:
    verdicts = {"person": verdict(), "fire": verdict(detected=False, start=0, end=0)}
    scene = {CAPTION_KEY: " A forklift\x02 crosses the dock. ", **verdicts}
    answer = parse_verdicts(completion(json.dumps(scene)), FACTS, QUESTIONS)
    assert answer.ok, answer.failure
    assert answer.caption == "A forklift crosses the dock."
    assert [one.question_id for one in answer.verdicts] == ["person", "fire"]
    older = parse_verdicts(completion(json.dumps(verdicts)), FACTS, QUESTIONS)
    assert older.ok
    assert older.caption == ""


def test_raw_control_characters_in_descriptions_are_accepted_and_dropped() -> None:
    # What the real engine produced under xgrammar: a raw \x02 inside a JSON string.
    fire = json.dumps(verdict(detected=False, start=0, end=0))
    text = (
        '{"person": {"detected": true, "confidence": 1.0, "evidence_start_s": 4.0, '
        '"evidence_end_s": 4.0, "description": "a car\x02 passes\x1f"}, "fire": ' + fire + "}"
    )
    answer = parse_verdicts(completion(text), FACTS, QUESTIONS)
    assert answer.ok, answer.failure
    assert answer.verdicts[0].description == "a car passes"


def test_reversed_evidence_interval_is_dropped_not_swapped() -> None:
    text = json.dumps({"person": verdict(start=3.0, end=1.0), "fire": verdict()})
    answer = parse_verdicts(completion(text), FACTS, QUESTIONS)
    assert answer.ok
    assert answer.verdicts[0].evidence is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"person": {"detected": tr', "not JSON"),
        ("[1, 2]", "not an object"),
        (json.dumps({"person": verdict()}), "missing ['fire']"),
        (json.dumps({"person": verdict(), "fire": verdict(), "x": verdict()}), "extra ['x']"),
        (json.dumps({"person": {**verdict(), "confidence": 1.5}, "fire": verdict()}), "confidence"),
        (json.dumps({"person": {**verdict(), "detected": "yes"}, "fire": verdict()}), "detected"),
        (json.dumps({"person": verdict(end=9.0), "fire": verdict()}), "after the clip"),
        (json.dumps({"person": {**verdict(), "why": 1}, "fire": verdict()}), "why"),
        (json.dumps({CAPTION_KEY: 3, "person": verdict(), "fire": verdict()}), CAPTION_KEY),
        (
            json.dumps(
                {CAPTION_KEY: "x" * (CAPTION_MAX_CHARS + 1), "person": verdict(), "fire": verdict()}
            ),
            "longer than",
        ),
    ],
)
def test_unparseable_verdicts_are_recorded_failures_with_raw_text(text: str, reason: str) -> None:
    answer = parse_verdicts(completion(text), FACTS, QUESTIONS)
    assert not answer.ok
    assert answer.verdicts == ()
    assert answer.failure is not None
    assert reason in answer.failure
    assert answer.completion.text == text


def test_reasoning_is_split_from_answer() -> None:
    text = "<think>\nA forklift enters at 2.00s.\n</think>\n\n<answer>\nA forklift.\n</answer>"
    answer = parse_reasoning(completion(text))
    assert answer.ok
    assert answer.reasoning == "A forklift enters at 2.00s."
    assert answer.answer == "A forklift."


def test_answer_without_think_is_kept_with_no_reasoning() -> None:
    answer = parse_reasoning(completion("<answer>Nobody.</answer>"))
    assert answer.ok
    assert answer.reasoning is None
    assert answer.answer == "Nobody."


@pytest.mark.parametrize(
    ("text", "finish", "reason"),
    [
        ("just words", "stop", "no <answer>"),
        ("<think>long thoughts", "length", "cut off at max_tokens"),
    ],
)
def test_reasoning_without_answer_is_a_recorded_failure(
    text: str, finish: str, reason: str
) -> None:
    answer = parse_reasoning(completion(text, finish))
    assert not answer.ok
    assert answer.answer is None
    assert answer.reasoning is None
    assert answer.failure is not None
    assert reason in answer.failure
    assert answer.completion.text == text
