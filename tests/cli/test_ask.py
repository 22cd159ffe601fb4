"""What `vigil ask` prints: a camera's answer with its clip times placed, a file's as is."""

from __future__ import annotations

from agent.cli.ask import describe
from agent.engines.answers import Completion, ReasoningAnswer, Usage

START = 1_750_000_000.0  # 2025-06-15T15:06:40Z
ANSWER = ReasoningAnswer(
    "The bike is at the left edge at 1.50s.", "Yes, from 2.00s.", None,
    Completion("…", "stop", Usage(900, 40, 800), 1234.0),
)  # fmt: skip


def test_a_camera_answer_is_printed_placed_and_as_the_model_wrote_it() -> None:
    lines = describe(ANSWER, 16, 4.0, START)
    assert lines[1] == "reasoning: The bike is at the left edge at 1.50s (15:06:42 UTC)."
    assert lines[2] == "answer: Yes, from 2.00s (15:06:42 UTC)."
    assert lines[3] == "answer as the model wrote it (clip seconds): Yes, from 2.00s."


def test_a_file_answer_keeps_its_seconds_into_the_file() -> None:
    lines = describe(ANSWER, 16, 4.0, None)
    assert lines[2] == "answer: Yes, from 2.00s."
    assert "seconds from the start of the file" in lines[3]
