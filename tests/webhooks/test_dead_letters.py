"""The ``dispatch`` group's dead letters, on a real Redis: an event whose alert record does
not parse is dead-lettered with its error and acked while the rest of its batch is queued;
Redis failing for a moment dead-letters nothing and loses nothing."""

from __future__ import annotations

from typing import Any

import pytest
import redis.asyncio as aioredis

from agent.webhooks.fanout import Fanout, ensure_group
from agent.webhooks.queue import WebhookQueue
from streams.bus.keys import DISPATCH_GROUP, Keys
from tests.webhooks.conftest import FAST, publish, subscribe


async def fanout(client: aioredis.Redis, keys: Keys) -> Fanout:
    await ensure_group(client, keys)
    queue = WebhookQueue(client, keys, FAST)
    return Fanout(client, keys, queue, "test", "http://127.0.0.1:8080", lambda _: None)


async def pending(client: aioredis.Redis, keys: Keys) -> int:
    return int((await client.xpending(keys.outbox, DISPATCH_GROUP))["pending"])


async def test_an_unparseable_alert_is_dead_lettered_and_the_batch_goes_on(
    aclient: aioredis.Redis, keys: Keys
) -> None:
    subscription = await subscribe(aclient, keys, "http://127.0.0.1:9/hook")
    ids = await publish(aclient, keys, 3)
    bad = {"id": "al_" + "0" * 19 + "1", "camera": "cam1", "evidence": "{oops"}
    await aclient.hset(keys.alert(bad["id"]), mapping=bad)  # type: ignore[arg-type]
    moved = await (await fanout(aclient, keys)).step(block_ms=100)
    assert moved == 3
    [(_, dead)] = await aclient.xrange(keys.dead_dispatch)
    assert dead[b"entry_id"].decode() == ids[1]
    assert dead[b"error"].startswith(b"PoisonError: the alert record does not parse")
    assert await aclient.llen(keys.webhook_queue(subscription.id)) == 2
    assert await pending(aclient, keys) == 0
    assert await aclient.hget(keys.metrics, "dead_letters:dispatch") == b"1"


async def test_an_entry_that_is_not_an_alert_event_is_never_delivered(
    aclient: aioredis.Redis, keys: Keys
) -> None:
    subscription = await subscribe(aclient, keys, "http://127.0.0.1:9/hook")
    stray = await aclient.xadd(keys.outbox, {"note": "written by something else"})
    await publish(aclient, keys, 1)
    assert await (await fanout(aclient, keys)).step(block_ms=100) == 2
    [(_, dead)] = await aclient.xrange(keys.dead_dispatch)
    assert dead[b"entry_id"] == stray
    assert b"not an alert or report event: no type or alert_id" in dead[b"error"]
    assert await aclient.llen(keys.webhook_queue(subscription.id)) == 1
    assert await pending(aclient, keys) == 0


async def test_redis_failing_for_a_moment_dead_letters_nothing(
    aclient: aioredis.Redis, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    subscription = await subscribe(aclient, keys, "http://127.0.0.1:9/hook")
    await publish(aclient, keys, 2)
    router = await fanout(aclient, keys)
    alerts, failed = Fanout._alerts, []

    async def flaky(self: Fanout, entries: Any) -> Any:
        if not failed:
            failed.append(1)
            raise aioredis.ConnectionError("Connection reset by peer")
        return await alerts(self, entries)

    monkeypatch.setattr(Fanout, "_alerts", flaky)
    with pytest.raises(aioredis.ConnectionError):
        await router.step(block_ms=100)
    assert await pending(aclient, keys) == 2
    assert await router.step(block_ms=100) == 2  # its own pending entries, read again
    assert await aclient.llen(keys.webhook_queue(subscription.id)) == 2
    assert await aclient.xlen(keys.dead_dispatch) == 0
    assert await pending(aclient, keys) == 0
