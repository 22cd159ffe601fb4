"""Pipeline counters in one Redis hash, so every process adds to the same figures."""

from __future__ import annotations

from typing import cast

import redis.asyncio as aioredis

from agent.engines.answers import Completion
from streams.bus.keys import Keys


def engine_usage(completion: Completion) -> dict[str, int]:
    """What one engine call cost: calls, latency and tokens, as counters to add up
    (average latency per call = engine_latency_ms / engine_calls)."""
    usage = completion.usage
    return {
        "engine_calls": 1,
        "engine_latency_ms": round(completion.latency_ms),
        "engine_prompt_tokens": usage.prompt_tokens,
        "engine_completion_tokens": usage.completion_tokens,
    }


class Counters:
    def __init__(self, client: aioredis.Redis, keys: Keys) -> None:
        self._client = client
        self._key = keys.metrics

    async def add(self, name: str, camera_id: str | None = None, amount: int = 1) -> None:
        """Counts ``name`` in total and, when a camera is given, for that camera too."""
        await self.add_many({name: amount}, camera_id)

    async def add_many(self, amounts: dict[str, int], camera_id: str | None = None) -> None:
        """Several counters in one round trip, each in total and per camera."""
        pipe = self._client.pipeline(transaction=False)
        for name, amount in amounts.items():
            pipe.hincrby(self._key, name, amount)
            if camera_id is not None:
                pipe.hincrby(self._key, f"{name}:{camera_id}", amount)
        await pipe.execute()

    async def all(self) -> dict[str, int]:
        raw = cast(dict[bytes, bytes], await self._client.hgetall(self._key))
        return {name.decode(): int(value) for name, value in raw.items()}
