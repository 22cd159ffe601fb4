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
from streams.config import CAMERA_ID_PATTERN
from streams.framebuffer import read_frames_async

router = APIRouter(tags=["ask"], responses=responses(401, 403, 404, 422, 503, 504))


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    camera: Annotated[str, Field(pattern=CAMERA_ID_PATTERN)]
    question: Annotated[str, Field(min_length=3, max_length=2000)]
    seconds: Annotated[float, Field(gt=0, le=600, description="Recent seconds to look at.")] = 8.0


class AskAnswer(BaseModel):
    answer: str | None
    reasoning: str | None
    failure: str | None = Field(description="Set when the answer was not in the expected form.")
    frames: int
    clip_start: float
    clip_end: float
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float


@router.post("/v1/ask")
async def ask(state: State, _: ReadKey, request: AskRequest) -> AskAnswer:
    if state.engine is None:
        raise HTTPException(
            503,
            "no reasoning engine runs in this process; /v1/ask is served by "
            "`vigil up` or an API started with an engine",
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
    usage = answer.completion.usage
    return AskAnswer(
        answer=answer.answer, reasoning=answer.reasoning, failure=answer.failure,
        frames=len(records), clip_start=records[0].ts, clip_end=records[-1].ts,
        prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens,
        latency_ms=answer.completion.latency_ms,
    )  # fmt: skip
