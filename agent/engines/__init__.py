"""Reasoning engines: a clip plus questions in, parsed answers out.

Two transports sit behind one small protocol: vLLM in-process (``local``) and any
OpenAI-compatible server (``openai_http``). Prompt building and answer parsing are pure
(``agent.engines.prompts``, ``agent.engines.answers``); an engine only moves them across.
"""

from __future__ import annotations

from typing import Protocol

from agent.engines.answers import ReasoningAnswer, VerdictAnswer
from agent.engines.budget import PromptBudget
from agent.engines.clips import Clip
from agent.engines.errors import (
    EngineContextError,
    EngineError,
    EngineOverloadedError,
    EngineRequestError,
    EngineResponseError,
    EngineTimeoutError,
    EngineUnavailableError,
)
from agent.engines.prompts import Question
from streams.buffer.frames import FrameRecord
from streams.picture.marks import NO_MARKS, Marks

__all__ = [
    "Engine",
    "EngineContextError",
    "EngineError",
    "EngineOverloadedError",
    "EngineRequestError",
    "EngineResponseError",
    "EngineTimeoutError",
    "EngineUnavailableError",
]


class Engine(Protocol):
    """An engine serves many requests at once; callers gather them to fill its batch.

    A request that cannot fit the model's context raises EngineContextError before it
    is sent."""

    @property
    def budget(self) -> PromptBudget:
        """The model's context length, the tokens a reasoning answer is given, and how
        this engine counts a prompt's tokens."""
        ...

    def clip(self, records: list[FrameRecord], fps: float, marks: Marks = NO_MARKS) -> Clip:
        """The clip in the form this engine sends (pixels or JPEGs), bands redrawn, the
        zones of ``marks`` outlined (and cropped to)."""
        ...

    async def verdicts(self, clip: Clip, questions: list[Question]) -> VerdictAnswer: ...

    async def reason(self, clip: Clip, question: str) -> ReasoningAnswer: ...

    async def reason_over_records(self, records: str, question: str) -> ReasoningAnswer:
        """A question over text records (the archive's), without video."""
        ...

    async def close(self) -> None: ...
