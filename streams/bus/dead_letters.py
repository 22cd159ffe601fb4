"""Dead letters of a consumer group: an entry that keeps failing is moved aside and acked,
so it never blocks the group or loops through restarts.

A consumer reports each entry it failed. Poison (``PoisonError``: the entry, or the record it
names, can never be read) moves at once; any other failure is counted in Redis, so the
count survives restarts, and the entry stays pending to be tried again until it failed
``max_failures`` times. Transient failures (Redis or a broker unreachable) are not
reported: the consumer backs off and retries them however long they last. A dead entry
keeps its fields, its stream entry id and the error; the dead-letter stream is capped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis.asyncio as aioredis

from streams.bus.consumer_group import Entry
from streams.bus.keys import ARCHIVE_GROUP, DISPATCH_GROUP, MQTT_GROUP, Keys

log = logging.getLogger(__name__)

MAX_FAILURES = 5
DEAD_MAXLEN = 10_000
ERROR_MAX_CHARS = 1000
TRANSIENT = (aioredis.ConnectionError, aioredis.TimeoutError)
"""Errors that say Redis is unreachable now, not that the entry is bad."""


class PoisonError(Exception):
    """The entry can never be handled: retrying cannot help."""


@contextmanager
def unreadable(what: str) -> Iterator[None]:
    """Turns a parse error in the block (KeyError, or ValueError, which JSON, UTF-8 and
    pydantic errors are) into ``PoisonError``."""
    try:
        yield
    except (KeyError, ValueError) as error:
        raise PoisonError(f"{what} does not parse: {error!r}") from error


def dead_stream(keys: Keys, group: str) -> tuple[str, str]:
    """The stream ``group`` reads and its dead-letter stream."""
    streams = {
        DISPATCH_GROUP: (keys.outbox, keys.dead_dispatch),
        MQTT_GROUP: (keys.outbox, keys.dead_mqtt),
        ARCHIVE_GROUP: (keys.archive, keys.dead_archive),
    }
    return streams[group]


def describe(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}"
    return text[:ERROR_MAX_CHARS]


class DeadLetters:
    def __init__(
        self, client: aioredis.Redis, keys: Keys, group: str, max_failures: int = MAX_FAILURES
    ) -> None:
        self._client = client
        self._group = group
        self._stream, self.stream = dead_stream(keys, group)
        self._failures = keys.entry_failures
        self._metrics = keys.metrics
        self._max_failures = max_failures

    async def failed(self, entry: Entry, error: BaseException) -> bool:
        """Counts a failure of ``entry``; True when it was moved to the dead letters."""
        entry_id = entry[0]
        if not isinstance(error, PoisonError):
            failures = await self._client.hincrby(self._failures, self._field(entry_id), 1)
            if int(failures) < self._max_failures:
                return False
        await self._move(entry, describe(error))
        return True

    async def ack(self, entry_ids: list[bytes]) -> None:
        """Acknowledges handled entries and forgets their failures, in one round trip."""
        if entry_ids:
            pipe = self._client.pipeline(transaction=False)
            self.queue_ack(pipe, entry_ids)
            await pipe.execute()

    def queue_ack(self, pipe: Any, entry_ids: list[bytes]) -> None:
        """``ack`` queued on the caller's pipeline or transaction."""
        if entry_ids:
            pipe.xack(self._stream, self._group, *entry_ids)
            self.queue_forget(pipe, entry_ids)

    async def forget(self, entry_ids: list[bytes]) -> None:
        """Forgets the failures of entries the caller acked by other means."""
        if entry_ids:
            pipe = self._client.pipeline(transaction=False)
            self.queue_forget(pipe, entry_ids)
            await pipe.execute()

    def queue_forget(self, pipe: Any, entry_ids: list[bytes]) -> None:
        if entry_ids:
            pipe.hdel(self._failures, *(self._field(entry_id) for entry_id in entry_ids))

    async def _move(self, entry: Entry, error: str) -> None:
        entry_id, fields = entry
        log.error("%s: entry %s moved to dead letters: %s", self._group, entry_id.decode(), error)
        dead = {**fields, b"entry_id": entry_id, b"group": self._group.encode()}
        dead[b"error"] = error.encode()
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.xadd(self.stream, dead, maxlen=DEAD_MAXLEN, approximate=True)  # type: ignore[arg-type]
            pipe.xack(self._stream, self._group, entry_id)
            pipe.hdel(self._failures, self._field(entry_id))
            pipe.hincrby(self._metrics, f"dead_letters:{self._group}", 1)
            await pipe.execute()

    def _field(self, entry_id: bytes) -> str:
        return f"{self._group}:{entry_id.decode()}"
