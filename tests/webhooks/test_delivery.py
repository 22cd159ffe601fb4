"""Deliveries to real local receivers, verified by the standardwebhooks package, with the
dispatcher on a single Redis and on a Redis Cluster."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from standardwebhooks.webhooks import Webhook

from agent.runtime.startup import connect_async
from agent.webhooks.queue import WebhookQueue
from agent.webhooks.subscriptions import Subscription
from streams.bus.keys import Keys
from tests.conftest import RedisTarget
from tests.pipeline.conftest import eventually
from tests.webhooks.conftest import FAST, new_receiver, publish, running_dispatcher, subscribe
from tests.webhooks.receiver import Behaviour, Receiver


@pytest.fixture
async def aclient(redis_target: RedisTarget) -> AsyncIterator[aioredis.Redis]:
    client = connect_async(redis_target.url, redis_target.cluster)
    yield client
    await client.aclose()


def verified_ids(receiver: Receiver, subscription: Subscription) -> list[str]:
    """The webhook-ids received, each after its signature checked out."""
    verifier = Webhook(subscription.secret)
    ids = []
    for item in receiver.received:
        headers = {name.lower(): value for name, value in item.headers.items()}
        payload = verifier.verify(item.body, headers)
        assert payload["data"]["camera"] == "cam1"
        assert payload["data"]["links"]["evidence"].endswith("/evidence.mp4")
        ids.append(headers["webhook-id"])
    return ids


async def test_a_receiver_down_for_a_while_gets_every_event_in_order(
    aclient: aioredis.Redis, keys: Keys, receivers: list[Receiver]
) -> None:
    receiver = new_receiver(receivers, start=False)
    subscription = await subscribe(aclient, keys, receiver.url)
    async with running_dispatcher(aclient, keys):
        ids = await publish(aclient, keys, 20)
        await asyncio.sleep(1.0)  # tries fail: nothing listens
        log = await WebhookQueue(aclient, keys, FAST).log(subscription.id, 100)
        assert log
        assert not any(entry.ok for entry in log)
        receiver.start()

        async def all_arrived() -> bool:
            return len(receiver.received) >= 20

        await eventually(all_arrived, 20, "every event after the receiver came back")
    assert verified_ids(receiver, subscription) == [f"msg_{i}" for i in ids]


async def test_one_that_always_fails_ends_in_dead_letters_and_can_be_redelivered(
    aclient: aioredis.Redis, keys: Keys, receivers: list[Receiver]
) -> None:
    receiver = new_receiver(receivers)
    receiver.behaviour = Behaviour(status=500)
    subscription = await subscribe(aclient, keys, receiver.url)
    queue = WebhookQueue(aclient, keys, FAST)
    settings = FAST.model_copy(update={"retry_for_s": 0.5})
    async with running_dispatcher(aclient, keys, settings):
        ids = await publish(aclient, keys, 3)

        async def all_dead() -> bool:
            return len(await queue.dead_letters(subscription.id)) == 3

        await eventually(all_dead, 20, "three dead letters")
        dead = await queue.dead_letters(subscription.id)
        assert [m.id for m in dead] == [f"msg_{i}" for i in ids]
        assert all(m.attempts >= 2 and m.last_error == "HTTP 500" for m in dead)
        receiver.behaviour = Behaviour(status=204)
        assert await queue.redeliver(subscription.id) == 3

        async def delivered() -> bool:
            return len(receiver.received) == 3

        await eventually(delivered, 20, "the redelivered letters")
    assert verified_ids(receiver, subscription) == [f"msg_{i}" for i in ids]
    assert await queue.dead_letters(subscription.id) == []
    counters = await aclient.hgetall(keys.metrics)
    assert int(counters[b"webhook_dead_letters"]) == 3
    assert int(counters[b"webhook_deliveries"]) == 3


async def test_a_slow_receiver_does_not_delay_the_others(
    aclient: aioredis.Redis, keys: Keys, receivers: list[Receiver]
) -> None:
    slow, fast = new_receiver(receivers), new_receiver(receivers)
    slow.behaviour = Behaviour(delay_s=1.5)
    await subscribe(aclient, keys, slow.url)
    fast_subscription = await subscribe(aclient, keys, fast.url)
    async with running_dispatcher(aclient, keys):
        await asyncio.sleep(0.3)  # the dispatcher has found both subscriptions
        ids = await publish(aclient, keys, 5)

        async def fast_done() -> bool:
            return len(fast.received) == 5

        await eventually(fast_done, 1.5, "the fast receiver's five events")
        assert len(slow.received) <= 1
    assert verified_ids(fast, fast_subscription) == [f"msg_{i}" for i in ids]


async def test_filters_choose_the_events(
    aclient: aioredis.Redis, keys: Keys, receivers: list[Receiver]
) -> None:
    receiver = new_receiver(receivers)
    await subscribe(aclient, keys, receiver.url, cameras=["cam2"], severities=["warning"])
    async with running_dispatcher(aclient, keys):
        await publish(aclient, keys, 2, camera="cam1")
        wanted = await publish(aclient, keys, 2, camera="cam2")

        async def two() -> bool:
            return len(receiver.received) == 2

        await eventually(two, 10, "the cam2 events")
        await asyncio.sleep(0.3)
    got = [json.loads(item.body)["data"]["camera"] for item in receiver.received]
    assert got == ["cam2", "cam2"]
    assert [item.headers["webhook-id"] for item in receiver.received] == [
        f"msg_{i}" for i in wanted
    ]
