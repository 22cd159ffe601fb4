"""A deterministic engine for pipeline tests: says "detected" inside chosen time ranges.

A test double of the engine protocol only: the real engines are tested against vLLM.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from agent.engines.answers import (
    Completion,
    Evidence,
    ReasoningAnswer,
    Usage,
    Verdict,
    VerdictAnswer,
)
from agent.engines.budget import PromptBudget
from agent.engines.clips import Clip, jpeg_clip
from agent.engines.prompts import Question
from agent.engines.tokens import ByteBound
from streams.buffer.frames import FrameRecord
from streams.picture.marks import NO_MARKS, Marks

SUMMARY = "A person walked into the lane from the left at 1.00s."  # a clip time to place


@dataclass
class ScriptedEngine:
    """Detects a question when the clip starts inside one of its (start, end) epoch ranges."""

    detect: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    delay_s: float = 0.0
    calls: list[tuple[str, float]] = field(default_factory=list)  # (mode, clip start)
    unparseable: bool = False
    summary: str = SUMMARY  # what reason() answers, after this reasoning
    reasoning: str = "looking"
    records_read: list[str] = field(default_factory=list)
    # What reason_over_records answers, from the records it is sent; unset: ``summary``.
    records_answer: Callable[[str], str] | None = None
    budget: PromptBudget = field(default_factory=lambda: PromptBudget(32768, 1024, ByteBound()))

    def clip(self, records: list[FrameRecord], fps: float, marks: Marks = NO_MARKS) -> Clip:
        return jpeg_clip(records, fps, marks=marks)

    async def verdicts(self, clip: Clip, questions: list[Question]) -> VerdictAnswer:
        await asyncio.sleep(self.delay_s)
        start = clip.facts.start_s
        self.calls.append(("verdicts", start))
        completion = Completion("{}", "stop", Usage(10, 10, None), 1.0)
        if self.unparseable:
            return VerdictAnswer((), "not JSON: scripted failure", completion)
        verdicts = tuple(
            self._verdict(question, start, clip.facts.duration_s) for question in questions
        )
        caption = f"A scripted scene from {start:.3f}."
        return VerdictAnswer(verdicts, None, completion, caption)

    async def reason(self, clip: Clip, question: str) -> ReasoningAnswer:
        await asyncio.sleep(self.delay_s)
        self.calls.append(("reason", clip.facts.start_s))
        text = f"<think>\n{self.reasoning}\n</think>\n\n<answer>\n{self.summary}\n</answer>"
        completion = Completion(text, "stop", Usage(10, 10, None), 1.0)
        return ReasoningAnswer(self.reasoning, self.summary, None, completion)

    async def reason_over_records(self, records: str, question: str) -> ReasoningAnswer:
        """Answers ``records_answer(records)`` or ``summary``; the records asked about are
        kept in ``records_read``."""
        await asyncio.sleep(self.delay_s)
        self.records_read.append(records)
        answer = self.records_answer(records) if self.records_answer else self.summary
        text = f"<think>\n{self.reasoning}\n</think>\n\n<answer>\n{answer}\n</answer>"
        completion = Completion(text, "stop", Usage(10, 10, None), 1.0)
        return ReasoningAnswer(self.reasoning, answer, None, completion)

    async def close(self) -> None:
        return None

    def _verdict(self, question: Question, start: float, duration: float) -> Verdict:
        hit = any(low <= start < high for low, high in self.detect.get(question.id, []))
        evidence = Evidence(0.5, 1.5, start + 0.5, start + 1.5) if hit else None
        return Verdict(
            question.id,
            hit,
            0.9 if hit else 0.1,
            evidence,
            "a person in the lane" if hit else "nothing",
        )
