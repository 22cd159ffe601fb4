"""A real Mosquitto for the session, a publisher in the test's loop, and a test subscriber."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import aiomqtt
import pytest
import redis.asyncio as aioredis

from agent.mqtt.publisher import MqttPublisher
from agent.mqtt.settings import MqttSettings
from agent.pipeline.cameras_store import CameraStore
from agent.pipeline.rules import Rule
from agent.pipeline.rules_store import RuleStore
from agent.runtime.embedded_mosquitto import EmbeddedMosquitto, PasswordListener
from streams.bus.keys import Keys
from streams.config import CameraConfig
from tests.conftest import free_port

USER, PASSWORD = "vigil", "s3cret-broker-pass"
WAIT_S = 10.0
BASE_URL = "https://vigil.example.com"
RULE = Rule(
    id="lane", question="Is a person in the lane?", consecutive=2, close_after_s=4.0,
    cooldown_s=0.0,
)  # fmt: skip


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedMosquitto]:
    login = PasswordListener(free_port(), USER, PASSWORD)
    broker = EmbeddedMosquitto(tmp_path_factory.mktemp("mosquitto"), free_port(), login)
    yield broker.start()
    broker.stop()


def mqtt_settings(port: int, prefix: str, **overrides: Any) -> MqttSettings:
    fields = {"url": f"mqtt://127.0.0.1:{port}", "prefix": prefix, "client_id": prefix}
    fields |= {"backoff_initial_s": 0.1, "backoff_cap_s": 0.5, "status_poll_s": 0.2}
    return MqttSettings.model_validate(fields | overrides)


def topic_prefix(keys: Keys) -> str:
    return keys.prefix.rstrip(":")


async def seed(client: aioredis.Redis, keys: Keys) -> None:
    camera = CameraConfig.model_validate({"id": "dock", "url": "rtsp://127.0.0.1/dock"})
    await CameraStore(client, keys).seed([camera])
    await RuleStore(client, keys).seed([RULE])


@asynccontextmanager
async def running_publisher(
    client: aioredis.Redis, keys: Keys, settings: MqttSettings
) -> AsyncIterator[asyncio.Task[None]]:
    stop = asyncio.Event()
    task = asyncio.create_task(MqttPublisher(client, keys, settings, "test", BASE_URL).run(stop))
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, WAIT_S)


class Subscriber:
    """Collects every message under a topic filter, retained ones included."""

    def __init__(self, port: int, topic_filter: str, identifier: str | None = None) -> None:
        self.messages: list[tuple[str, str, bool]] = []  # topic, payload, retained
        self.raw: dict[str, bytes] = {}  # topic -> its latest payload as sent (images)
        self._port = port
        self._filter = topic_filter
        self._identifier = identifier  # set: a persistent session, queued for while away

    def latest(self, topic: str) -> str | None:
        payloads = [payload for name, payload, _ in self.messages if name == topic]
        return payloads[-1] if payloads else None

    def payloads(self, topic: str) -> list[str]:
        return [payload for name, payload, _ in self.messages if name == topic]

    async def run(self, ready: asyncio.Event) -> None:
        persistent = self._identifier is not None
        async with aiomqtt.Client(
            "127.0.0.1", self._port, identifier=self._identifier, clean_session=not persistent
        ) as mqtt:
            await mqtt.subscribe(self._filter, qos=1)
            ready.set()
            async for message in mqtt.messages:
                payload = message.payload
                raw = payload if isinstance(payload, bytes) else str(payload).encode()
                self.raw[str(message.topic)] = raw
                text = raw.decode(errors="replace")
                self.messages.append((str(message.topic), text, message.retain))


@asynccontextmanager
async def subscribed(
    port: int, topic_filter: str, identifier: str | None = None
) -> AsyncIterator[Subscriber]:
    subscriber = Subscriber(port, topic_filter, identifier)
    ready = asyncio.Event()
    task = asyncio.create_task(subscriber.run(ready))
    try:
        await asyncio.wait_for(ready.wait(), WAIT_S)
        yield subscriber
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def until(condition: Callable[[], bool], what: str, timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def health(client: aioredis.Redis, keys: Keys) -> dict[str, str]:
    raw = await client.hgetall(keys.mqtt_health)
    return {key.decode(): value.decode() for key, value in raw.items()}
