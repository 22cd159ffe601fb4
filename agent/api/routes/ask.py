"""/v1/ask: a free question, answered in reasoning mode: over a camera's buffered frames
when the period asked about is still buffered (a clip of at most ``ask_max_seconds``),
otherwise over the archive's records of the period (any camera when none is named).

A camera question without ``since`` looks at the camera's last ``seconds`` before
``until`` (now when unset). Every prompt is measured against the model's context: a
question or clip that cannot fit is a 422 with the reason, never a 503."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field, model_validator

from agent.api.deps import QuestionKey, State
from agent.api.errors import responses
from agent.api.history_answers import HistoryAnswer, answer_from_history
from agent.api.settings import ApiSettings
from agent.api.state import ApiState
from agent.engines import EngineContextError, EngineError
from agent.engines.answers import ReasoningAnswer
from agent.engines.clip_times import PlacedText, PlacedTime, place_times
from agent.engines.prompts import ClipFacts
from streams.buffer.frames import FrameRecord, read_frames_async
from streams.config import CAMERA_ID_PATTERN

EpochS = Annotated[float | None, Field(ge=0, le=1e11, description="Epoch seconds.")]

router = APIRouter(tags=["ask"], responses=responses(401, 403, 404, 422, 503, 504))


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: Annotated[str, Field(min_length=3, max_length=2000)]
    camera: Annotated[
        str | None, Field(pattern=CAMERA_ID_PATTERN, description="Unset: every camera.")
    ] = None
    seconds: Annotated[
        float, Field(gt=0, le=600, description="Recent seconds to look at, without since.")
    ] = 8.0
    since: EpochS = None
    until: EpochS = None

    @model_validator(mode="after")
    def _period(self) -> AskRequest:
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise ValueError("since must be before until")
        return self


class AskAnswer(BaseModel):
    mode: Literal["live"] = "live"
    answer: str | None = Field(description="The model's answer; its times are clip seconds.")
    reasoning: str | None
    failure: str | None = Field(description="Set when the answer was not in the expected form.")
    answer_placed: str | None = Field(
        description="The answer with the UTC time after each clip time: 3.00s (14:02:07 UTC)."
    )
    reasoning_placed: str | None
    times: list[PlacedTime] = Field(description="The answer's clip times, placed (epoch `at`).")
    reasoning_times: list[PlacedTime]
    frames: int
    clip_start: float = Field(description="First frame (epoch s): clip second t is this + t.")
    clip_end: float = Field(description="Last frame (epoch s).")
    clip_fps: float
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float


@router.post("/v1/ask", responses=responses(429))
async def ask(state: State, _: QuestionKey, request: AskRequest) -> AskAnswer | HistoryAnswer:
    engine = state.engine
    if engine is None:
        raise HTTPException(
            503,
            "no reasoning engine serves this API: the in-process engine (engine.kind: vllm) "
            "runs only under `vigil up`; an API run apart asks vLLM servers "
            "(engine.kind: openai with engine.base_urls)",
        )
    since, until = asked_period(request, state.api, time.time())
    try:
        records = await _buffered_clip(state, request.camera, since, until)
        if records is None:
            return await answer_from_history(
                state, engine, request.question, request.camera, since, until
            )
        clip = await asyncio.to_thread(engine.clip, records, state.ingest.fps)
        answer = await asyncio.wait_for(
            engine.reason(clip, request.question), state.api.ask_timeout_s
        )
    except TimeoutError:
        raise HTTPException(
            504, f"the engine did not answer within {state.api.ask_timeout_s:g} s"
        ) from None
    except EngineContextError as error:
        detail = f"the question does not fit the model's context: {error}"
        raise HTTPException(422, detail) from None
    except EngineError as error:
        raise HTTPException(503, f"the engine failed: {error}") from None
    return _ask_answer(answer, clip.facts, records[-1].ts)


def asked_period(request: AskRequest, api: ApiSettings, now: float) -> tuple[float | None, float]:
    """``(since, until)`` of the question. Without ``until``: up to now (a second ahead,
    for the newest frame). A camera without ``since``: its last ``seconds`` (at most
    ``ask_max_seconds``) before ``until``, whether ``until`` is now or past. Without a
    camera or ``since``: all history before ``until``."""
    seconds = min(request.seconds, api.ask_max_seconds)
    if request.until is None:
        until, since = now + 1.0, now - seconds
    else:
        until, since = request.until, request.until - seconds
    if request.since is not None or request.camera is None:
        return request.since, until
    return since, until


async def _buffered_clip(
    state: ApiState, camera: str | None, since: float | None, until: float
) -> list[FrameRecord] | None:
    """The camera's frames of the period when it lies within the frame buffer and fits
    one clip; None when the question goes to the archive. Raises 404 when the period is
    buffered but the camera has no frames in it."""
    api = state.api
    if camera is None or since is None or until - since > api.ask_max_seconds + 1.0:
        return None
    if since < time.time() - state.ingest.retention_s:
        return None
    records = await read_frames_async(state.client, state.keys, camera, since, until)
    records = records[-api.ask_max_frames :]
    if len(records) < 2:
        raise HTTPException(404, f"no frames of camera {camera} in the last {until - since:.0f} s")
    return records


def _ask_answer(answer: ReasoningAnswer, facts: ClipFacts, last_frame_s: float) -> AskAnswer:
    placed_answer = _placed(answer.answer, facts)
    placed_reasoning = _placed(answer.reasoning, facts)
    usage = answer.completion.usage
    return AskAnswer(
        answer=answer.answer, reasoning=answer.reasoning, failure=answer.failure,
        answer_placed=placed_answer.text if placed_answer else None,
        reasoning_placed=placed_reasoning.text if placed_reasoning else None,
        times=list(placed_answer.times) if placed_answer else [],
        reasoning_times=list(placed_reasoning.times) if placed_reasoning else [],
        frames=facts.frame_count, clip_start=facts.start_s, clip_end=last_frame_s,
        clip_fps=facts.fps, prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens, latency_ms=answer.completion.latency_ms,
    )  # fmt: skip


def _placed(text: str | None, facts: ClipFacts) -> PlacedText | None:
    return None if text is None else place_times(text, facts.start_s, facts.duration_s)
