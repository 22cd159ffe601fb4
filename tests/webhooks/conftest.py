"""A dispatcher running in the test's loop against the session Redis, and local receivers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import pytest
import redis.asyncio as aioredis

from agent.webhooks.dispatcher import Dispatcher
from agent.webhooks.settings import WebhookSettings
from agent.webhooks.signing import new_secret
from agent.webhooks.subscriptions import (
    Subscription,
    SubscriptionStore,
    WebhookIn,
    new_subscription,
)
from streams.bus.keys import Keys
from tests.conftest import free_port
from tests.webhooks.receiver import Receiver

FAST = WebhookSettings(
    allow_hosts=["127.0.0.1"], backoff_initial_s=0.05, backoff_cap_s=0.3, poll_s=0.05, timeout_s=2.0
)


@pytest.fixture
def receivers() -> Iterator[list[Receiver]]:
    started: list[Receiver] = []
    yield started
    for receiver in started:
        receiver.stop()


def new_receiver(receivers: list[Receiver], start: bool = True) -> Receiver:
    receiver = Receiver(free_port())
    receivers.append(receiver)
    return receiver.start() if start else receiver


async def subscribe(
    client: aioredis.Redis, keys: Keys, url: str, **filters: object
) -> Subscription:
    subscription = new_subscription(WebhookIn.model_validate({"url": url, **filters}), new_secret())
    await SubscriptionStore(client, keys).put(subscription)
    return subscription


async def publish(
    client: aioredis.Redis, keys: Keys, count: int, camera: str = "cam1"
) -> list[str]:
    """Outbox events as the alert book writes them; returns their stream ids."""
    ids = []
    for number in range(count):
        payload = {
            "type": "alert.updated", "alert_id": f"al_{number:020x}", "camera": camera,
            "rule": "lane", "severity": "warning", "confidence": 0.9, "detected": True,
            "description": f"event {number}", "window": {"start": 1.0, "end": 9.0},
        }  # fmt: skip
        fields = {
            "type": payload["type"], "alert_id": payload["alert_id"], "camera": camera,
            "payload": json.dumps(payload),
        }  # fmt: skip
        ids.append((await client.xadd(keys.outbox, fields)).decode())  # type: ignore[arg-type]
    return ids


@asynccontextmanager
async def running_dispatcher(
    client: aioredis.Redis, keys: Keys, settings: WebhookSettings = FAST
) -> AsyncIterator[Dispatcher]:
    stop = asyncio.Event()
    dispatcher = Dispatcher(client, keys, settings, "http://127.0.0.1:8080", name="test")
    task = asyncio.create_task(dispatcher.run(stop))
    try:
        yield dispatcher
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
