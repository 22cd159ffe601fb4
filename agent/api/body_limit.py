"""Request bodies bounded before anything reads them.

An ASGI middleware in front of every route: a body whose Content-Length is over the
route's limit is refused with 413 without keeping a byte of it; a body without one
(chunked) is read here, counted as it arrives, and refused with 413 as soon as it passes
the limit, else handed to the application whole. A refused body is read and dropped up
to ``DRAIN_MAX_BYTES`` so that the client, still sending, reads the 413. Either way no
route, dependency (the API key check) or JSON parser runs on a body over its limit.
Limits go by path prefix (``api.body_limits``, the longest match winning), else
``api.max_body_bytes``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DRAIN_MAX_BYTES = 16 * 1024 * 1024


class BodyLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        default_bytes: int,
        by_prefix: Mapping[str, int],
        drain_bytes: int = DRAIN_MAX_BYTES,
    ) -> None:
        self.app = app
        self._default_bytes = default_bytes
        self._drain_bytes = drain_bytes
        # Longest prefix first, so the first match is the most specific.
        self._by_prefix = sorted(by_prefix.items(), key=lambda item: -len(item[0]))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = content_length(scope)
        if declared is not None:
            if declared > limit:
                await self._too_large(scope, receive, send, limit)
                return
            await self.app(scope, receive, send)
            return
        received = await read_within(receive, limit)
        if received is None:
            await self._too_large(scope, receive, send, limit)
            return
        await self.app(scope, _replaying(received, receive), send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        detail = f"the request body is over this route's limit of {limit} bytes"
        # A client still sending when the connection closes sees a reset, not the 413:
        # the rest of the body is read and dropped first (nothing kept), up to
        # ``drain_bytes``; past that the connection closes on the sender.
        await drain(receive, self._drain_bytes)
        response = JSONResponse(
            {"detail": detail}, status_code=413, headers={"Connection": "close"}
        )
        await response(scope, receive, send)

    def limit_for(self, path: str) -> int:
        for prefix, limit in self._by_prefix:
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                return limit
        return self._default_bytes


def content_length(scope: Scope) -> int | None:
    """The declared body size; None when there is none or it is not a number."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


async def read_within(receive: Receive, limit: int) -> list[Message] | None:
    """The request's messages up to the body's end, or None as soon as the body is over
    ``limit`` bytes (the rest is never read)."""
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages  # the client went away: the application sees it
        size += len(message.get("body", b""))
        if size > limit:
            return None
        if not message.get("more_body", False):
            return messages


def _replaying(messages: list[Message], receive: Receive) -> Receive:
    pending = deque(messages)

    async def replay() -> Message:
        return pending.popleft() if pending else await receive()

    return replay


async def drain(receive: Receive, most_bytes: int) -> None:
    """Reads and drops the request's body until its end, the client leaving, or
    ``most_bytes``."""
    dropped = 0
    while dropped <= most_bytes:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return
        dropped += len(message.get("body", b""))
