"""Reading a Redis stream through a consumer group, in the order every reader here uses:
entries a dead consumer left pending (claimed once idle long enough), then this
consumer's own pending entries (read but not acked before a restart), then new ones.
An entry is acked by the caller only once its work is done, so a crash re-reads it."""

from __future__ import annotations

from typing import cast

import redis.asyncio as aioredis

Entry = tuple[bytes, dict[bytes, bytes]]


async def ensure_group(client: aioredis.Redis, stream: str, group: str) -> None:
    """Creates the group from the stream's start (nothing written before is skipped)."""
    try:
        await client.xgroup_create(stream, group, id="0", mkstream=True)
    except aioredis.ResponseError as error:
        if "BUSYGROUP" not in str(error):
            raise


class GroupReader:
    def __init__(
        self,
        client: aioredis.Redis,
        stream: str,
        group: str,
        consumer: str,
        batch: int,
        claim_idle_ms: int,
    ) -> None:
        self._client = client
        self._stream = stream
        self._group = group
        self._consumer = consumer
        self._batch = batch
        self._claim_idle_ms = claim_idle_ms

    async def ensure_group(self) -> None:
        await ensure_group(self._client, self._stream, self._group)

    async def next_batch(self, block_ms: int) -> list[Entry]:
        """Claimed, own pending, or new entries (waiting up to ``block_ms`` for new ones).
        Entries whose fields were trimmed from the stream come back as nothing."""
        return (
            await self._claimed() or await self._read("0", None) or await self._read(">", block_ms)
        )

    async def read_new(self, block_ms: int) -> list[Entry]:
        """New entries only: tops up a batch begun with ``next_batch``."""
        return await self._read(">", block_ms)

    async def ack(self, entry_ids: list[bytes]) -> None:
        if entry_ids:
            await self._client.xack(self._stream, self._group, *entry_ids)

    async def _read(self, start: str, block_ms: int | None) -> list[Entry]:
        reply = await self._client.xreadgroup(
            self._group, self._consumer, {self._stream: start}, count=self._batch, block=block_ms
        )
        streams = cast(list[tuple[bytes, list[Entry]]], reply or [])
        return [entry for entry in streams[0][1] if entry[1]] if streams else []

    async def _claimed(self) -> list[Entry]:
        reply = await self._client.xautoclaim(
            self._stream, self._group, self._consumer, self._claim_idle_ms, count=self._batch
        )
        return [entry for entry in cast(list[Entry], reply[1]) if entry and entry[1]]
