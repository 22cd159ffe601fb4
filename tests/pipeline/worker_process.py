"""A worker in a process of its own, for tests that kill it: ``URL PREFIX DELAY_S``.

Its scripted engine detects everything and answers after DELAY_S seconds, so a test can
kill it while it holds a job.
"""

from __future__ import annotations

import asyncio
import sys

import redis.asyncio as aioredis

from agent.pipeline.worker import Worker
from streams.bus.keys import Keys
from tests.pipeline.conftest import FAST
from tests.pipeline.scripted_engine import ScriptedEngine


async def main(url: str, prefix: str, delay_s: float) -> None:
    client = aioredis.from_url(url)
    engine = ScriptedEngine(detect={"lane": [(0, 1e12)]}, delay_s=delay_s)
    print("ready", flush=True)
    await Worker(client, Keys(prefix), engine, FAST, "doomed").run(asyncio.Event())


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
