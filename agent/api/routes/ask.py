"""/v1/ask: a free question about a camera's last seconds, answered in reasoning mode."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from agent.api.deps import ReadKey, State
from agent.api.errors import responses
from agent.engines import EngineError
from agent.engines.answers import ReasoningAnswer
from agent.engines.clip_times import PlacedText, PlacedTime, place_times
from agent.engines.prompts import ClipFacts
from streams.config import CAMERA_ID_PATTERN
from streams.framebuffer import read_frames_async

router = APIRouter(tags=["ask"], responses=responses(401, 403, 404, 422, 503, 504))


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    camera: Annotated[str, Field(pattern=CAMERA_ID_PATTERN)]
    question: Annotated[str, Field(min_length=3, max_length=2000)]
    seconds: Annotated[float, Field(gt=0, le=600, description="Recent seconds to look at.")] = 8.0


class AskAnswer(BaseModel):
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


@router.post("/v1/ask")
async def ask(state: State, _: ReadKey, request: AskRequest) -> AskAnswer:
    if state.engine is None:
        raise HTTPException(
            503,
            "no reasoning engine serves this API: the in-process engine (engine.kind: vllm) "
            "runs only under `vigil up`; an API run apart asks vLLM servers "
            "(engine.kind: openai with engine.base_urls)",
        )
    api = state.api
    seconds = min(request.seconds, api.ask_max_seconds)
    end_s = time.time() + 1.0
    records = await read_frames_async(
        state.client, state.keys, request.camera, end_s - seconds - 1.0, end_s
    )
    records = records[-api.ask_max_frames :]
    if len(records) < 2:
        raise HTTPException(404, f"no frames of camera {request.camera} in the last {seconds:g} s")
    engine = state.engine
    try:
        clip = await asyncio.to_thread(engine.clip, records, state.ingest.fps)
        answer = await asyncio.wait_for(engine.reason(clip, request.question), api.ask_timeout_s)
    except TimeoutError:
        raise HTTPException(
            504, f"the engine did not answer within {api.ask_timeout_s:g} s"
        ) from None
    except EngineError as error:
        raise HTTPException(503, f"the engine failed: {error}") from None
    return _ask_answer(answer, clip.facts, records[-1].ts)


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
