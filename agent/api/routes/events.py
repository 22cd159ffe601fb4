"""/v1/events: alert events as Server-Sent Events, resumable from ``Last-Event-ID``.

Event ids are the ids of the ``alerts`` stream (``alerts:{cam}`` with ``camera``), so a
client that reconnects with the last id it saw gets everything after it, nothing twice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, cast

from fastapi import APIRouter, Header, Query
from fastapi.responses import StreamingResponse

from agent.api.deps import ReadKey, State
from agent.api.errors import responses
from agent.api.state import ApiState
from streams.config import CAMERA_ID_PATTERN

router = APIRouter(tags=["events"], responses=responses(401, 403, 422))
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
    _: ReadKey,
    camera: Annotated[str | None, Query(pattern=CAMERA_ID_PATTERN)] = None,
    last_event_id: Annotated[str | None, Header(pattern=STREAM_ID_PATTERN)] = None,
) -> StreamingResponse:
    """Alert events from now on, or after ``Last-Event-ID`` when the client resumes."""
    stream = state.keys.alerts if camera is None else state.keys.camera_alerts(camera)
    start = last_event_id or await _newest_id(state, stream)
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(
        _feed(state, stream, start), media_type="text/event-stream", headers=headers
    )


async def _newest_id(state: ApiState, stream: str) -> str:
    newest = cast(list[tuple[bytes, object]], await state.client.xrevrange(stream, count=1))
    return newest[0][0].decode() if newest else "0-0"


async def _feed(state: ApiState, stream: str, last_id: str) -> AsyncIterator[str]:
    yield f"retry: {RETRY_MS}\n: connected\n\n"
    idle_ms = 0.0
    keepalive_ms = state.api.sse_keepalive_s * 1000
    while True:
        reply = cast(
            Entries, await state.client.xread({stream: last_id}, count=100, block=READ_BLOCK_MS)
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
