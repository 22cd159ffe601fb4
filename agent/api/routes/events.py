"""/v1/events: alert events as Server-Sent Events, resumable from ``Last-Event-ID``.

Event ids are the ids of the ``alerts`` stream (``alerts:{cam}`` with ``camera``), so a
client that reconnects with the last id it saw gets everything after it, nothing twice.
A feed reads on a Redis connection of its own, closed when the client goes; at most
``api.sse_max_per_key`` feeds per API key and ``api.sse_max_total`` in all are open, and
one more is refused with 429.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, cast

import redis.asyncio as aioredis
from fastapi import APIRouter, Header, Query
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from agent.api.deps import Limits, ReadKey, State
from agent.api.errors import responses
from agent.api.feed_connections import feed_connection
from agent.api.limits import FEED_RETRY_AFTER_S, Slots, too_busy
from streams.config import CAMERA_ID_PATTERN

router = APIRouter(tags=["events"], responses=responses(401, 403, 422, 429))
STREAM_ID_PATTERN = r"^\d{1,19}(-\d{1,19})?$"  # below 2**64: a valid stream id
READ_BLOCK_MS = 1000
RETRY_MS = 2000

Entries = list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]]


def format_event(entry_id: str, fields: dict[bytes, bytes]) -> str:
    kind = fields.get(b"type", b"message").decode()
    data = fields.get(b"payload", b"{}").decode().replace("\n", " ")
    return f"id: {entry_id}\nevent: {kind}\ndata: {data}\n\n"


@router.get(
    "/v1/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def events(
    state: State,
    key: ReadKey,
    limits: Limits,
    camera: Annotated[str | None, Query(pattern=CAMERA_ID_PATTERN)] = None,
    last_event_id: Annotated[str | None, Header(pattern=STREAM_ID_PATTERN)] = None,
) -> StreamingResponse:
    """Alert events from now on, or after ``Last-Event-ID`` when the client resumes."""
    stream = state.keys.alerts if camera is None else state.keys.camera_alerts(camera)
    lease = _FeedLease.take(limits.feeds, key.id)
    try:
        lease.connection = await feed_connection(state.client, stream)
        start = last_event_id or await _newest_id(lease.connection, stream)
    except BaseException:
        await lease.end()
        raise
    feed = _feed(lease.connection, stream, start, state.api.sse_keepalive_s * 1000)
    return _FeedResponse(feed, lease)


@dataclass
class _FeedLease:
    """A feed's slot and its Redis connection, given back together, once."""

    slots: Slots
    owner: str  # the API key's id
    connection: aioredis.Redis | None = None
    ended: bool = False

    @classmethod
    def take(cls, slots: Slots, owner: str) -> _FeedLease:
        """Raises 429 (HTTPException) when the key or the API has no feed left."""
        if not slots.take(owner):
            detail = (
                f"too many live feeds: at most {slots.per_owner} per API key and "
                f"{slots.total} in all (api.sse_max_per_key, api.sse_max_total); "
                "close one or retry later"
            )
            raise too_busy(detail, FEED_RETRY_AFTER_S)
        return cls(slots, owner)

    async def end(self) -> None:
        if self.ended:
            return
        self.ended = True
        self.slots.give_back(self.owner)
        if self.connection is not None:
            await self.connection.aclose()


class _FeedResponse(StreamingResponse):
    """An event stream that ends its lease once it is over, however it ends (the client
    going away included), even when its body never started."""

    def __init__(self, feed: AsyncIterator[str], lease: _FeedLease) -> None:
        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        super().__init__(feed, media_type="text/event-stream", headers=headers)
        self._lease = lease

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._lease.end()


async def _newest_id(connection: aioredis.Redis, stream: str) -> str:
    newest = cast(list[tuple[bytes, object]], await connection.xrevrange(stream, count=1))
    return newest[0][0].decode() if newest else "0-0"


async def _feed(
    connection: aioredis.Redis, stream: str, last_id: str, keepalive_ms: float
) -> AsyncIterator[str]:
    yield f"retry: {RETRY_MS}\n: connected\n\n"
    idle_ms = 0.0
    while True:
        reply = cast(
            Entries, await connection.xread({stream: last_id}, count=100, block=READ_BLOCK_MS)
        )
        if not reply:
            idle_ms += READ_BLOCK_MS
            if idle_ms >= keepalive_ms:
                idle_ms = 0
                yield ": keepalive\n\n"
            continue
        idle_ms = 0
        for entry_id, fields in reply[0][1]:
            last_id = entry_id.decode()
            yield format_event(last_id, fields)
