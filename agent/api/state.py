"""What the API's routes work with, created once by whoever starts the API."""

from __future__ import annotations

from dataclasses import dataclass, field

import redis.asyncio as aioredis

from agent.api.archive_access import ArchiveAccess
from agent.api.readiness import PartsHealth
from agent.api.settings import ApiSettings
from agent.archive.settings import EvalSettings
from agent.engines import Engine
from agent.webhooks.settings import WebhookSettings
from streams.bus.keys import Keys
from streams.config import IngestSettings


@dataclass(frozen=True, slots=True)
class ApiState:
    client: aioredis.Redis
    keys: Keys
    api: ApiSettings
    webhooks: WebhookSettings
    ingest: IngestSettings
    engine: Engine | None = None  # /v1/ask answers 503 without one
    archive: ArchiveAccess | None = None  # /v1/search answers 503 without one
    parts: PartsHealth | None = None  # /healthz and /readyz report its unhealthy parts
    eval: EvalSettings = field(default_factory=EvalSettings)  # missed events' context clips
