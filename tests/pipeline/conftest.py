"""Fixtures for pipeline tests: an asyncio Redis client and a pipeline runner."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis

from agent.engines import Engine
from agent.pipeline.scheduler import Scheduler, fixed_cameras
from agent.pipeline.settings import PipelineSettings
from agent.pipeline.worker import Worker
from agent.runtime.startup import connect, connect_async
from streams.bus.keys import Keys
from tests.conftest import RedisTarget
from tests.streams.helpers import make_video

FAST = PipelineSettings(
    window_s=2.0,
    stride_s=2.0,
    motion_threshold=0.0,
    scheduler_poll_s=0.2,
    claim_idle_s=3.0,
    max_window_age_s=30.0,
)


@pytest.fixture
async def bus_clients(
    redis_target: RedisTarget,
) -> AsyncIterator[tuple[redis.Redis, aioredis.Redis]]:
    """A sync and an asyncio client of the target, made as Vigil's processes make them."""
    aclient = connect_async(redis_target.url, redis_target.cluster)
    with connect(redis_target.url, redis_target.cluster) as client:
        yield client, aclient
    await aclient.aclose()


@pytest.fixture(scope="session")
def still_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two seconds of a grey wall: a camera where nothing moves."""
    path = tmp_path_factory.mktemp("videos") / "still.mp4"
    return make_video(path, "color=gray:size=320x240:rate=10")


@asynccontextmanager
async def running_pipeline(
    client: aioredis.Redis,
    keys: Keys,
    engine: Engine,
    cameras: dict[str, float],
    settings: PipelineSettings = FAST,
    workers: int = 1,
) -> AsyncIterator[asyncio.Event]:
    stop = asyncio.Event()
    parts = [Scheduler(client, keys, settings, fixed_cameras(cameras)).run(stop)]
    parts += [Worker(client, keys, engine, settings, f"w{i}").run(stop) for i in range(workers)]
    tasks = [asyncio.create_task(part) for part in parts]
    try:
        yield stop
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
