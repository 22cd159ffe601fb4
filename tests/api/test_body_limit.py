"""Request bodies over their route's limit are refused with 413 before anything reads
them: the middleware alone (no route may run), then the live API (no key check, no JSON
parsing, nothing stored), with a declared length and with a chunked body."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest
from starlette.types import Message, Receive, Scope, Send

from agent.api.body_limit import DRAIN_MAX_BYTES, BodyLimitMiddleware
from tests.api.conftest import LiveApi

LIMIT = 1_048_576  # api.max_body_bytes' default
ASK_LIMIT = 65_536  # api.body_limits' default for /v1/ask


class Recorder:
    """An application that records whether it ran and the body it read."""

    def __init__(self) -> None:
        self.called = False
        self.body = b""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.called = True
        more = True
        while more:
            message = await receive()
            self.body += message.get("body", b"")
            more = message.get("more_body", False)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


async def call(
    app: BodyLimitMiddleware, path: str, chunks: list[bytes], length: int | None
) -> tuple[int, bytes, int]:
    """Status and body of the answer, and how many body chunks were received."""
    headers = [] if length is None else [(b"content-length", str(length).encode())]
    scope: Scope = {"type": "http", "method": "POST", "path": path, "headers": headers}
    pending = list(chunks)
    sent: list[Message] = []

    async def receive() -> Message:
        if not pending:
            return {"type": "http.disconnect"}
        body = pending.pop(0)
        return {"type": "http.request", "body": body, "more_body": bool(pending)}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status = sent[0]["status"]
    body = b"".join(message.get("body", b"") for message in sent[1:])
    return status, body, len(chunks) - len(pending)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def app(recorder: Recorder) -> BodyLimitMiddleware:
    return BodyLimitMiddleware(recorder, 1000, {"/v1/ask": 100, "/v1/ask/deep": 5000})


async def test_a_declared_length_over_the_limit_is_refused_before_the_application(
    app: BodyLimitMiddleware, recorder: Recorder
) -> None:
    status, body, received = await call(app, "/v1/rules", [b"x" * 1001], 1001)
    assert status == 413
    assert json.loads(body)["detail"] == "the request body is over this route's limit of 1000 bytes"
    assert received == 1  # read and dropped, so that the sender can read the answer
    assert not recorder.called


async def test_a_chunked_body_is_refused_once_over_without_reading_the_rest(
    app: BodyLimitMiddleware, recorder: Recorder
) -> None:
    chunks = [b"x" * 400] * 10  # 4,000 bytes in all: over at the third
    status, _, received = await call(app, "/v1/rules", chunks, None)
    assert (status, received) == (413, 10)  # the rest dropped, within the drain bound
    assert not recorder.called
    draining = BodyLimitMiddleware(recorder, 1000, {}, drain_bytes=1000)
    status, _, received = await call(draining, "/v1/rules", chunks, None)
    assert (status, received) == (413, 3 + 3)  # 1,200 bytes dropped, then no more read
    assert not recorder.called


async def test_limits_go_by_the_longest_prefix(
    app: BodyLimitMiddleware, recorder: Recorder
) -> None:
    assert app.limit_for("/v1/ask") == 100
    assert app.limit_for("/v1/ask/deep/x") == 5000
    assert app.limit_for("/v1/asked") == 1000
    assert (await call(app, "/v1/ask", [b"x" * 101], None))[0] == 413
    assert not recorder.called


async def test_a_body_within_the_limit_reaches_the_application_whole(
    app: BodyLimitMiddleware, recorder: Recorder
) -> None:
    status, body, _ = await call(app, "/v1/rules", [b"a" * 500, b"b" * 500], None)
    assert (status, body) == (200, b"ok")
    assert recorder.body == b"a" * 500 + b"b" * 500
    declared = Recorder()
    app = BodyLimitMiddleware(declared, 1000, {})
    assert (await call(app, "/v1/rules", [b"c" * 1000], 1000))[0] == 200
    assert declared.body == b"c" * 1000


def test_live_oversized_bodies_are_413_before_the_key_is_checked(live_api: LiveApi) -> None:
    anonymous = live_api.client(None)
    big = b"not json " * (LIMIT // 9 + 1)
    refused = anonymous.post("/v1/ask", content=big, headers={"content-type": "text/plain"})
    assert refused.status_code == 413  # not 422 (parsed first) nor 401 (key checked first)
    assert refused.json() == {
        "detail": f"the request body is over this route's limit of {ASK_LIMIT} bytes"
    }
    rule = {"id": "huge", "question": "Is a person in the lane?", "notes": "x" * LIMIT}
    admin = live_api.client(live_api.admin)
    assert admin.post("/v1/rules", json=rule).status_code == 413
    assert admin.get("/v1/rules/huge").status_code == 404  # the route never ran


def test_live_chunked_bodies_are_counted_as_they_come(live_api: LiveApi) -> None:
    sent: list[int] = []

    def chunks() -> Iterator[bytes]:
        chunk = b"x" * 65_536
        for _ in range(1024):  # 64 MiB if it were all read
            sent.append(len(chunk))
            yield chunk

    with httpx.Client(base_url=live_api.url, timeout=30.0, trust_env=False) as http:
        refused = http.post("/v1/rules", content=chunks())
    assert refused.status_code == 413
    assert "limit of 1048576 bytes" in refused.json()["detail"]
    # The server read and dropped at most DRAIN_MAX_BYTES past the limit, then closed
    # (sockets buffer a few MB more).
    assert sum(sent) < LIMIT + DRAIN_MAX_BYTES + 8 * LIMIT


def test_live_a_large_declared_body_gets_a_readable_413(live_api: LiveApi) -> None:
    """The client is still sending when the server refuses: it must read the 413, not
    a reset connection."""
    size = 12 * 1024 * 1024

    def slowly() -> Iterator[bytes]:  # still sending long after the server has decided
        for _ in range(size // LIMIT):
            time.sleep(0.02)
            yield b"x" * LIMIT

    for key in (None, live_api.admin):
        headers = {"content-length": str(size), "content-type": "application/json"}
        refused = live_api.client(key).post("/v1/cameras", content=slowly(), headers=headers)
        assert refused.status_code == 413


def test_live_bodies_within_the_limit_still_work(live_api: LiveApi) -> None:
    rule = {"id": "fits", "question": "Is a person in the lane?"}
    assert live_api.client(None).post("/v1/rules", json=rule).status_code == 401
    admin = live_api.client(live_api.admin)

    def body() -> Iterator[bytes]:
        yield json.dumps(rule).encode()

    created = admin.post("/v1/rules", content=body(), headers={"content-type": "application/json"})
    assert created.status_code == 201, created.text
    assert admin.delete("/v1/rules/fits").status_code == 204
