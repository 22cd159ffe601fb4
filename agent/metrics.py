"""Pipeline counters in one Redis hash, so every process adds to the same figures."""

from __future__ import annotations

from typing import cast

import redis.asyncio as aioredis

from streams.keys import Keys


class Counters:
    def __init__(self, client: aioredis.Redis, keys: Keys) -> None:
        self._client = client
        self._key = keys.metrics

    async def add(self, name: str, camera_id: str | None = None, amount: int = 1) -> None:
        """Counts ``name`` in total and, when a camera is given, for that camera too."""
        pipe = self._client.pipeline(transaction=False)
        pipe.hincrby(self._key, name, amount)
        if camera_id is not None:
            pipe.hincrby(self._key, f"{name}:{camera_id}", amount)
        await pipe.execute()

    async def all(self) -> dict[str, int]:
        raw = cast(dict[bytes, bytes], await self._client.hgetall(self._key))
        return {name.decode(): int(value) for name, value in raw.items()}
