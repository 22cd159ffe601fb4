"""The API under a real uvicorn server on a free loopback port, one per module."""

from __future__ import annotations

import asyncio
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis
import redis.asyncio as aioredis

from agent.api.keys import ApiKeyStore, Scope
from agent.api.server import serve_api
from agent.api.settings import ApiSettings
from agent.engines import Engine
from agent.runtime.config import VigilSettings
from agent.runtime.embedded_redis import EmbeddedRedis
from agent.runtime.service import api_state
from agent.runtime.startup import connect, connect_async
from agent.webhooks.settings import WebhookSettings
from streams.bus.keys import Keys
from tests.conftest import free_port


@dataclass
class LiveApi:
    url: str
    keys: Keys
    admin: str
    read: str
    redis: redis.Redis
    redis_url: str
    cluster: bool = False

    def aredis(self) -> aioredis.Redis:
        """A new asyncio client of the API's Redis (for the calling event loop)."""
        return connect_async(self.redis_url, self.cluster)

    def client(self, token: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30.0, trust_env=False)


def create_api_keys(
    url: str, keys: Keys, owner: str = "test", cluster: bool = False
) -> tuple[str, str]:
    """Tokens of an admin key and a read key, named ``{owner}-admin`` and ``{owner}-reader``."""

    async def create() -> tuple[str, str]:
        client = connect_async(url, cluster)
        store = ApiKeyStore(client, keys)
        _, admin = await store.create(f"{owner}-admin", Scope.ADMIN)
        _, read = await store.create(f"{owner}-reader", Scope.READ)
        await client.aclose()
        return admin, read

    return asyncio.run(create())


@contextmanager
def running_api(
    redis_url: str,
    settings: VigilSettings,
    keys: Keys,
    engine: Engine | None = None,
    cluster: bool = False,
) -> Iterator[None]:
    """Serves the API in a thread with its own event loop until the block ends."""
    stop_holder: dict[str, asyncio.Event | asyncio.AbstractEventLoop] = {}
    ready = threading.Event()

    async def serve() -> None:
        client = connect_async(redis_url, cluster)
        stop_holder["stop"], stop_holder["loop"] = asyncio.Event(), asyncio.get_running_loop()
        ready.set()
        try:
            await serve_api(api_state(settings, client, keys, engine), stop_holder["stop"])  # type: ignore[arg-type]
        finally:
            await client.aclose()

    thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    thread.start()
    ready.wait(10)
    _wait_until_up(settings.api.port)
    try:
        yield
    finally:
        loop, stop = stop_holder["loop"], stop_holder["stop"]
        loop.call_soon_threadsafe(stop.set)  # type: ignore[union-attr]
        thread.join(15)


def _wait_until_up(port: int) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1.0, trust_env=False)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError("the API did not start")


def api_settings(
    port: int, api: Mapping[str, object] | None = None, **webhooks: object
) -> VigilSettings:
    """Settings of an API on ``port`` (``api`` changes its defaults here), its data (the
    archive) in a directory of its own."""
    fields = {"port": port, "sse_keepalive_s": 1.0, "clip_max_s": 30.0, **(api or {})}
    return VigilSettings(
        data_dir=Path(tempfile.mkdtemp(prefix="vigil-api-")),
        api=ApiSettings.model_validate(fields),
        webhooks=WebhookSettings.model_validate(
            {"allow_hosts": ["127.0.0.1"], "backoff_initial_s": 0.1, **webhooks}
        ),
    )


@contextmanager
def live_api_on(
    redis_url: str, cluster: bool = False, api: Mapping[str, object] | None = None
) -> Iterator[LiveApi]:
    """The API with a key prefix of its own and an admin and a read key."""
    keys = Keys(prefix=f"api-{uuid.uuid4().hex[:8]}:")
    port = free_port()
    admin, read = create_api_keys(redis_url, keys, cluster=cluster)
    with (
        running_api(redis_url, api_settings(port, api), keys, cluster=cluster),
        connect(redis_url, cluster) as sync_client,
    ):
        url = f"http://127.0.0.1:{port}"
        yield LiveApi(url, keys, admin, read, sync_client, redis_url, cluster)


@pytest.fixture(scope="module")
def live_api(redis_server: EmbeddedRedis) -> Iterator[LiveApi]:
    with live_api_on(redis_server.url) as api:
        yield api
