"""What the API's routes work with, created once by whoever starts the API."""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis

from agent.config import VigilSettings
from agent.engines import Engine
from streams.keys import Keys


@dataclass(frozen=True, slots=True)
class ApiState:
    client: aioredis.Redis
    keys: Keys
    settings: VigilSettings
    engine: Engine | None = None  # /v1/ask answers 503 without one
