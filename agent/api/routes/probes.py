"""/healthz (the process answers) and /readyz (Redis and, when configured, the engine)."""

from __future__ import annotations

import redis.asyncio as aioredis
from fastapi import APIRouter, Response
from pydantic import BaseModel

from agent.api.deps import State
from agent.api.readiness import engine_ready

router = APIRouter(tags=["probes"])


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    redis: bool
    engine: bool | None = None


@router.get("/healthz")
async def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz", responses={503: {"model": Readiness}})
async def readyz(state: State, response: Response) -> Readiness:
    try:
        redis_ok = bool(await state.client.ping())
    except (aioredis.RedisError, OSError):
        redis_ok = False
    engine_ok = None if state.engine is None else await engine_ready(state.engine)
    ready = redis_ok and engine_ok is not False
    body = Readiness(status="ready" if ready else "not ready", redis=redis_ok, engine=engine_ok)
    if not ready:
        response.status_code = 503
    return body
