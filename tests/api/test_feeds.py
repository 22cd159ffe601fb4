"""Live feeds (/v1/events) are capped per API key and in all (429 beyond, with
Retry-After), read on Redis connections of their own, not the pool every request shares,
and give both back when the client goes."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import httpx
import pytest

from agent.api.feed_connections import FEED_CLIENT_NAME
from agent.runtime.embedded_redis import EmbeddedRedis
from tests.api.conftest import LiveApi, live_api_on

PER_KEY, TOTAL = 3, 4


@pytest.fixture(scope="module")
def live_api(redis_server: EmbeddedRedis) -> Iterator[LiveApi]:
    caps = {"sse_max_per_key": PER_KEY, "sse_max_total": TOTAL}
    with live_api_on(redis_server.url, api=caps) as api:
        yield api


def open_feed(stack: ExitStack, api: LiveApi, token: str) -> httpx.Response:
    """A feed that has started (its first comment read), open until ``stack`` closes."""
    http = stack.enter_context(api.client(token))
    feed = stack.enter_context(http.stream("GET", "/v1/events"))
    if feed.status_code == 200:
        lines = feed.iter_lines()
        stack.callback(lines.close)  # kept open: closing it would close the feed
        assert next(lines).startswith("retry:")
    return feed


def clients(api: LiveApi) -> list[dict[str, object]]:
    return api.redis.client_list()  # type: ignore[return-value]


def feed_connections(api: LiveApi) -> int:
    return sum(1 for client in clients(api) if client["name"] == FEED_CLIENT_NAME)


def shared_connections(api: LiveApi) -> int:
    return sum(1 for client in clients(api) if client["name"] != FEED_CLIENT_NAME)


def eventually(check: Callable[[], bool], within_s: float = 15.0) -> bool:
    deadline = time.monotonic() + within_s
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_feeds_over_the_cap_of_a_key_or_of_all_are_429(live_api: LiveApi) -> None:
    with ExitStack() as stack:
        for _ in range(PER_KEY):
            assert open_feed(stack, live_api, live_api.read).status_code == 200
        refused = open_feed(stack, live_api, live_api.read)
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "30"
        refused.read()
        assert "api.sse_max_per_key" in refused.json()["detail"]
        assert open_feed(stack, live_api, live_api.admin).status_code == 200  # another key
        assert open_feed(stack, live_api, live_api.admin).status_code == 429  # TOTAL open
    # Gone with their clients: the slots are free again.
    with ExitStack() as stack:
        assert eventually(lambda: feed_connections(live_api) == 0)
        for _ in range(PER_KEY):
            assert open_feed(stack, live_api, live_api.read).status_code == 200


def test_feeds_read_on_connections_of_their_own_closed_when_they_end(
    live_api: LiveApi,
) -> None:
    assert eventually(lambda: feed_connections(live_api) == 0)
    with ExitStack() as stack:
        open_feed(stack, live_api, live_api.read)  # the shared pool has made what it needs
        stack.close()
        assert eventually(lambda: feed_connections(live_api) == 0)
        shared = shared_connections(live_api)
        for _ in range(PER_KEY):
            open_feed(stack, live_api, live_api.read)
        assert open_feed(stack, live_api, live_api.admin).status_code == 200
        assert feed_connections(live_api) == TOTAL
        assert shared_connections(live_api) <= shared + 1  # not one more per feed
    assert eventually(lambda: feed_connections(live_api) == 0)
