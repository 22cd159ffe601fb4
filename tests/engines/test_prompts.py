"""Prompt building: the Cosmos conventions, one call for all questions, the schema."""

from __future__ import annotations

import pytest

from agent.engines.prompts import (
    CAPTION_KEY,
    CAPTION_MAX_CHARS,
    REASONING_SUFFIX,
    ClipFacts,
    Mode,
    Question,
    history_prompt,
    reasoning_prompt,
    verdict_prompt,
    verdict_schema,
    verdict_token_budget,
)

FACTS = ClipFacts(camera_id="dock-1", start_s=1_750_000_000.0, fps=4.0, frame_count=32)
QUESTIONS = [Question("person", "Is a person on the dock?"), Question("fire", "Is there fire?")]


def test_reasoning_system_prompt_carries_the_cosmos_suffix_verbatim() -> None:
    prompt = reasoning_prompt(FACTS, "What happened?")
    assert prompt.mode is Mode.REASONING
    assert prompt.system == (
        "You are a helpful assistant. Answer the question in the following format: "
        "<think>\nyour reasoning\n</think>\n\n<answer>\nyour answer\n</answer>."
    )
    assert prompt.schema is None
    assert prompt.text.endswith("What happened?")


def test_a_question_over_records_is_reasoned_after_the_records_and_asks_for_citations() -> None:
    records = "Facts:\n- none\n\nWindows:\n[w1] camera gate, …: a truck waits."
    prompt = history_prompt(f"  {records}\n", "  When was the truck there? ")
    assert prompt.mode is Mode.REASONING
    assert prompt.system.endswith(REASONING_SUFFIX)
    assert prompt.schema is None
    assert records in prompt.text
    assert "cite the windows you rely on by their tags, like [w2]" in prompt.text
    assert prompt.text.index(records) < prompt.text.index("Question:")
    assert prompt.text.endswith("\n\nQuestion: When was the truck there?")


def test_verdict_prompt_has_no_reasoning_suffix_and_all_questions() -> None:
    prompt = verdict_prompt(FACTS, QUESTIONS)
    assert REASONING_SUFFIX not in prompt.system
    assert "- person: Is a person on the dock?" in prompt.text
    assert "- fire: Is there fire?" in prompt.text


def test_text_states_absolute_start_fps_and_clip_relative_strip() -> None:
    text = verdict_prompt(FACTS, QUESTIONS).text
    assert "2025-06-15T15:06:40.000Z" in text
    assert "4 frames per second" in text
    assert "32 frames" in text
    assert "8.00 s" in text
    assert "seconds since the start of the clip" in text


def test_schema_asks_the_scene_caption_first_then_every_question_and_bounds_numbers() -> None:
    schema = verdict_schema(QUESTIONS, duration_s=8.0)
    assert schema["required"] == [CAPTION_KEY, "person", "fire"]
    assert next(iter(schema["properties"])) == CAPTION_KEY
    caption = schema["properties"][CAPTION_KEY]
    assert caption == {"type": "string", "maxLength": CAPTION_MAX_CHARS}
    assert schema["additionalProperties"] is False
    one = schema["properties"]["person"]
    assert one["properties"]["confidence"] == {"type": "number", "minimum": 0, "maximum": 1}
    assert one["properties"]["evidence_end_s"]["maximum"] == 8.0
    assert set(one["required"]) == {
        "detected", "confidence", "evidence_start_s", "evidence_end_s", "description",
    }  # fmt: skip


@pytest.mark.parametrize(
    "questions",
    [[], [Question("a", "x"), Question("a", "y")], [Question("has space", "x")]],
)
def test_bad_question_sets_are_refused(questions: list[Question]) -> None:
    with pytest.raises(ValueError, match="question"):
        verdict_prompt(FACTS, questions)


def test_the_caption_key_can_never_be_a_question_id() -> None:
    with pytest.raises(ValueError, match="question id"):
        verdict_prompt(FACTS, [Question(CAPTION_KEY, "Is there a scene?")])


def test_the_token_budget_covers_the_caption_and_grows_per_question() -> None:
    one = verdict_token_budget(verdict_schema(QUESTIONS[:1], duration_s=8.0))
    two = verdict_token_budget(verdict_schema(QUESTIONS, duration_s=8.0))
    per_question = two - one
    assert one - per_question >= 4 * CAPTION_MAX_CHARS  # a caption of 4-byte characters fits
