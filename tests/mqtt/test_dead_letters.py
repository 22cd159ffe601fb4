"""The publisher survives what used to kill it, against a real Mosquitto and Redis: an alert
record that does not parse is dead-lettered and the next event still goes out; Redis
unreachable for a moment loses nothing and dead-letters nothing; a command listener that
dies shows in /v1/mqtt and is started again."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiomqtt
import pytest
import redis.asyncio as aioredis

from agent.api.routes.mqtt import mqtt_status
from agent.api.settings import ApiSettings
from agent.api.state import ApiState
from agent.mqtt.commands import Commands
from agent.pipeline.alert_book import AlertBook
from agent.runtime.embedded_mosquitto import EmbeddedMosquitto
from agent.webhooks.settings import WebhookSettings
from streams.bus.keys import MQTT_GROUP, Keys
from streams.config import IngestSettings
from tests.mqtt.conftest import (
    health,
    mqtt_settings,
    running_publisher,
    seed,
    subscribed,
    topic_prefix,
    until,
)
from tests.mqtt.test_publisher import apply, opened_alert


async def pending(client: aioredis.Redis, keys: Keys) -> int:
    return int((await client.xpending(keys.outbox, MQTT_GROUP))["pending"])


async def dead(client: aioredis.Redis, keys: Keys) -> list[dict[bytes, bytes]]:
    return [fields for _, fields in await client.xrange(keys.dead_mqtt)]


async def test_an_alert_record_that_does_not_parse_is_dead_lettered_and_the_next_goes_out(
    aclient: aioredis.Redis, keys: Keys, mosquitto: EmbeddedMosquitto
) -> None:
    await seed(aclient, keys)
    prefix, book = topic_prefix(keys), AlertBook(aclient, keys)
    for index in range(2):
        await apply(book, index, True)  # the "new" event waits in the outbox
    alert_id = await opened_alert(aclient, keys)
    await aclient.hset(keys.alert(alert_id), "evidence", "{not json")
    async with (
        running_publisher(aclient, keys, mqtt_settings(mosquitto.port, prefix)) as task,
        subscribed(mosquitto.port, f"{prefix}/alerts") as seen,
    ):
        dead_letters: list[dict[bytes, bytes]] = []

        async def dead_lettered() -> bool:
            dead_letters[:] = await dead(aclient, keys)
            return bool(dead_letters)

        await until_async(dead_lettered, "the event dead-lettered")
        assert dead_letters[0][b"type"] == b"alert.opened"
        assert dead_letters[0][b"alert_id"] == alert_id.encode()
        assert b"does not parse" in dead_letters[0][b"error"]
        assert await pending(aclient, keys) == 0
        await aclient.hdel(keys.alert(alert_id), "evidence")
        await apply(book, 2, True)
        await until(lambda: len(seen.payloads(f"{prefix}/alerts")) == 1, "the update")
        assert json.loads(seen.payloads(f"{prefix}/alerts")[0])["type"] == "update"
        assert not task.done()
    assert await aclient.hget(keys.metrics, "dead_letters:mqtt") == b"1"


async def test_redis_unreachable_for_a_moment_loses_nothing_and_dead_letters_nothing(
    aclient: aioredis.Redis,
    keys: Keys,
    mosquitto: EmbeddedMosquitto,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await seed(aclient, keys)
    prefix, book = topic_prefix(keys), AlertBook(aclient, keys)
    for index in range(2):
        await apply(book, index, True)
    alert_key = keys.alert(await opened_alert(aclient, keys))
    hgetall, failed = aclient.hgetall, []

    async def flaky_hgetall(key: str) -> Any:
        if key == alert_key and not failed:
            failed.append(key)
            raise aioredis.ConnectionError("Connection reset by peer")
        return await hgetall(key)

    monkeypatch.setattr(aclient, "hgetall", flaky_hgetall)
    async with (
        subscribed(mosquitto.port, f"{prefix}/alerts") as seen,
        running_publisher(aclient, keys, mqtt_settings(mosquitto.port, prefix)) as task,
    ):
        await until(lambda: len(seen.payloads(f"{prefix}/alerts")) == 1, "the event, once")
        assert failed
        assert not task.done()
        assert "Redis unavailable" in (await health(aclient, keys)).get("last_error", "")
    assert [json.loads(p)["type"] for p in seen.payloads(f"{prefix}/alerts")] == ["new"]
    assert await dead(aclient, keys) == []
    assert await pending(aclient, keys) == 0


async def test_a_dead_command_listener_shows_in_the_status_and_is_started_again(
    aclient: aioredis.Redis,
    keys: Keys,
    mosquitto: EmbeddedMosquitto,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await seed(aclient, keys)
    prefix = topic_prefix(keys)
    handle, calls = Commands.handle, []

    async def fails_first(self: Commands, topic: str, payload: bytes) -> None:
        calls.append(payload)
        if len(calls) == 1:
            raise RuntimeError("handler bug")
        await handle(self, topic, payload)

    monkeypatch.setattr(Commands, "handle", fails_first)
    settings = mqtt_settings(mosquitto.port, prefix, commands=True, backoff_initial_s=1.0)
    state = ApiState(aclient, keys, ApiSettings(), WebhookSettings(), IngestSettings())
    switch = f"{prefix}/dock/enabled"
    async with (
        running_publisher(aclient, keys, settings),
        subscribed(mosquitto.port, f"{switch}/state") as seen,
        aiomqtt.Client("127.0.0.1", mosquitto.port) as operator,
    ):
        await until(lambda: seen.latest(f"{switch}/state") == "ON", "the switch state")
        await operator.publish(f"{switch}/set", "OFF", qos=1)

        async def degraded() -> bool:
            return (await mqtt_status(state, None)).state == "degraded"  # type: ignore[arg-type]

        await until_async(degraded, "the listener reported down")
        status = await mqtt_status(state, None)  # type: ignore[arg-type]
        assert "command listener died" in (status.last_error or "")
        assert "handler bug" in (status.last_error or "")

        async def listening() -> bool:
            return (await health(aclient, keys)).get("listener") == "listening"

        await until_async(listening, "the listener started again")
        assert (await mqtt_status(state, None)).state == "connected"  # type: ignore[arg-type]
        await operator.publish(f"{switch}/set", "OFF", qos=1)
        await until(lambda: seen.latest(f"{switch}/state") == "OFF", "the command applied")
    assert await aclient.hget(keys.metrics, "part_restarts:mqtt-listener") == b"1"


async def until_async(check: Any, what: str, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)
