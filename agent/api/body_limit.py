"""Request bodies bounded before anything reads them.

An ASGI middleware in front of every route: a body whose Content-Length is over the
route's limit is refused with 413 without reading a byte of it; a body without one
(chunked) is read here, counted as it arrives, and refused with 413 as soon as it passes
the limit, then handed to the application whole. Either way no route, dependency (the API
key check) or JSON parser runs on a body over its limit. Limits go by path prefix
(``api.body_limits``, the longest match winning), else ``api.max_body_bytes``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, default_bytes: int, by_prefix: Mapping[str, int]) -> None:
        self.app = app
        self._default_bytes = default_bytes
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
                await _too_large(scope, receive, send, limit)
                return
            await self.app(scope, receive, send)
            return
        received = await read_within(receive, limit)
        if received is None:
            await _too_large(scope, receive, send, limit)
            return
        await self.app(scope, _replaying(received, receive), send)

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


async def _too_large(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    detail = f"the request body is over this route's limit of {limit} bytes"
    # The unread body stays unread: the connection closes after the answer.
    response = JSONResponse({"detail": detail}, status_code=413, headers={"Connection": "close"})
    await response(scope, receive, send)
