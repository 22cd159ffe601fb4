"""/healthz (the process's parts are up and going round) and /readyz (those parts, Redis
and, when configured, the engine). A part that is down (crashed, waiting to restart) or
not going round makes both answer 503, naming it and why in ``parts``."""

from __future__ import annotations

import redis.asyncio as aioredis
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from agent.api.deps import State
from agent.api.readiness import engine_ready, unhealthy_parts

router = APIRouter(tags=["probes"])


class Health(BaseModel):
    status: str


class Unhealthy(Health):
    parts: dict[str, str]  # part -> why it is down or not going round


class Readiness(BaseModel):
    status: str
    redis: bool
    engine: bool | None = None


class NotReady(Readiness):
    parts: dict[str, str]


@router.get("/healthz", response_model=Health, responses={503: {"model": Unhealthy}})
async def healthz(state: State) -> Health | JSONResponse:
    parts = unhealthy_parts(state.parts)
    if parts:
        return JSONResponse(Unhealthy(status="unhealthy", parts=parts).model_dump(), 503)
    return Health(status="ok")


@router.get("/readyz", response_model=Readiness, responses={503: {"model": NotReady}})
async def readyz(state: State) -> Readiness | JSONResponse:
    try:
        redis_ok = bool(await state.client.ping())
    except (aioredis.RedisError, OSError):
        redis_ok = False
    engine_ok = None if state.engine is None else await engine_ready(state.engine)
    parts = unhealthy_parts(state.parts)
    if redis_ok and engine_ok is not False and not parts:
        return Readiness(status="ready", redis=redis_ok, engine=engine_ok)
    body = NotReady(status="not ready", redis=redis_ok, engine=engine_ok, parts=parts)
    return JSONResponse(body.model_dump(), 503)
