"""The whole pipeline on the real vLLM engine (tiny random-weight model): every verdict of
real windows parses, and no job fails, even though the answers themselves are noise."""

from __future__ import annotations

import pytest
import redis
import redis.asyncio as aioredis

from agent.engines.local import LocalEngine
from agent.pipeline.metrics import Counters
from agent.pipeline.rules import Rule
from agent.pipeline.rules_store import RuleStore
from agent.runtime.embedded_redis import EmbeddedRedis
from streams.bus.keys import Keys
from streams.ingest.demo import demo_video_path
from tests.pipeline.conftest import FAST, eventually, running_pipeline
from tests.streams.helpers import camera, running_ingest

RULES = [
    Rule(id="cyclist", question="Is a person riding a bicycle?"),
    Rule(id="taxi", question="Is a taxi driving past?", consecutive=2),
]

pytestmark = pytest.mark.engine


async def test_real_windows_through_the_real_engine(
    redis_server: EmbeddedRedis, keys: Keys, local_engine: LocalEngine
) -> None:
    sync_client = redis.Redis.from_url(redis_server.url)
    client = aioredis.from_url(redis_server.url)
    await RuleStore(client, keys).seed(RULES)
    settings = FAST.model_copy(update={"window_s": 4.0, "stride_s": 4.0})
    try:
        with running_ingest(sync_client, keys, [camera("demo", demo_video_path().as_uri())]):
            async with running_pipeline(client, keys, local_engine, {"demo": 4.0}, settings):

                async def processed() -> bool:
                    counters = await Counters(client, keys).all()
                    return counters.get("windows_processed", 0) >= 3

                await eventually(processed, 120, "three windows through the engine")
        counters = await Counters(client, keys).all()
        assert counters.get("verdicts_unparsed", 0) == 0
        assert counters.get("jobs_failed", 0) == 0
        assert counters.get("jobs_dead", 0) == 0
        assert await client.xlen(keys.verdict_failures) == 0
    finally:
        await client.aclose()
        sync_client.close()
