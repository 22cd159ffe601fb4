"""The publisher against a real Mosquitto and real Redis: retained state, events, failures."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from agent.pipeline.alert_book import AlertBook
from agent.pipeline.alert_state import EventType, WindowResult
from agent.pipeline.rules_store import RuleStore
from agent.runtime.embedded_mosquitto import EmbeddedMosquitto
from agent.runtime.embedded_redis import EmbeddedRedis
from streams.bus.keys import MQTT_GROUP, Keys
from tests.mqtt.conftest import (
    BASE_URL,
    PASSWORD,
    RULE,
    USER,
    WAIT_S,
    health,
    mqtt_settings,
    running_publisher,
    seed,
    subscribed,
    topic_prefix,
    until,
)
from tests.pipeline.evidence import fixed_frames

START_MS = 1_800_000_000_000
REPO = Path(__file__).resolve().parents[2]


def window(index: int, hit: bool) -> WindowResult:
    start = START_MS + index * 2000
    return WindowResult(start, start + 2000, hit, 0.9 if hit else 0.1, f"window {index}")


async def apply(book: AlertBook, index: int, hit: bool) -> None:
    await book.apply("dock", RULE, window(index, hit), fixed_frames([b"\xff\xd8jpeg"], "dock"))


async def summarize(client: aioredis.Redis, keys: Keys, book: AlertBook, alert_id: str) -> None:
    """Stores a root cause and its event the way the summarizer does."""
    async with client.pipeline(transaction=True) as pipe:
        pipe.hset(keys.alert(alert_id), mapping={"summary": "a forklift", "summarized_at": "1"})
        payload = {"type": EventType.SUMMARIZED.value, "alert_id": alert_id, "rule": "lane"}
        book.queue_event(pipe, "dock", payload)
        await pipe.execute()


async def opened_alert(client: aioredis.Redis, keys: Keys) -> str:
    members = await client.smembers(keys.open_alerts("dock"))
    assert len(members) == 1
    return str(next(iter(members)).decode())


async def test_a_fresh_subscriber_sees_availability_and_state(
    aclient: aioredis.Redis, keys: Keys, mosquitto: EmbeddedMosquitto
) -> None:
    await seed(aclient, keys)
    prefix = topic_prefix(keys)
    async with running_publisher(aclient, keys, mqtt_settings(mosquitto.port, prefix)):
        async with subscribed(mosquitto.port, f"{prefix}/#") as early:
            await until(lambda: early.latest(f"{prefix}/available") == "online", "online")
        async with subscribed(mosquitto.port, f"{prefix}/#") as fresh:
            await until(lambda: fresh.latest(f"{prefix}/available") == "online", "retained")
            assert fresh.latest(f"{prefix}/dock/lane/state") == "OFF"
            assert fresh.latest(f"{prefix}/dock/status") == "offline"  # no ingest reports it
            assert all(retained for _, _, retained in fresh.messages[:3])
    async with subscribed(mosquitto.port, f"{prefix}/available") as after:
        await until(lambda: after.latest(f"{prefix}/available") == "offline", "offline on stop")
    assert (await health(aclient, keys))["state"] == "disconnected"


async def test_an_alert_is_published_in_order_with_its_retained_state(
    aclient: aioredis.Redis, keys: Keys, mosquitto: EmbeddedMosquitto
) -> None:
    await seed(aclient, keys)
    prefix, book = topic_prefix(keys), AlertBook(aclient, keys)
    async with (
        running_publisher(aclient, keys, mqtt_settings(mosquitto.port, prefix)),
        subscribed(mosquitto.port, f"{prefix}/#") as seen,
    ):
        for index in range(2):
            await apply(book, index, True)  # opens on the second positive window
        alert_id = await opened_alert(aclient, keys)
        await until(lambda: len(seen.payloads(f"{prefix}/alerts")) == 1, "new")
        assert seen.raw[f"{prefix}/dock/lane/snapshot"] == b"\xff\xd8jpeg"  # the evidence
        await apply(book, 2, True)  # published on its own: its "after" is the update's
        await until(lambda: len(seen.payloads(f"{prefix}/alerts")) == 2, "update")
        assert seen.latest(f"{prefix}/dock/lane/state") == "ON"
        await summarize(aclient, keys, book, alert_id)
        for index in range(3, 7):
            await apply(book, index, False)  # closes after close_after_s
        await until(lambda: len(seen.payloads(f"{prefix}/alerts")) == 4, "summary and end")
    events = [json.loads(payload) for payload in seen.payloads(f"{prefix}/alerts")]
    assert [event["type"] for event in events] == ["new", "update", "summary", "end"]
    assert {event["after"]["id"] for event in events} == {alert_id}
    assert events[0]["before"] is None
    assert events[1]["before"]["windows"] < events[1]["after"]["windows"]
    assert events[3]["after"]["state"] == "closed"
    assert events[3]["after"]["summary"] == "a forklift"
    assert seen.latest(f"{prefix}/dock/lane/state") == "OFF"
    described = attributes(seen.latest(f"{prefix}/dock/lane/attributes"))
    assert described["alert_id"] == alert_id
    assert described["root_cause"] == "a forklift"
    assert described["links"]["alert"] == f"{BASE_URL}/v1/alerts/{alert_id}"
    assert described["zones"] == []  # the whole picture


async def test_attributes_carry_the_rule_zones_and_a_restart_keeps_the_closed_alert(
    aclient: aioredis.Redis, keys: Keys, mosquitto: EmbeddedMosquitto
) -> None:
    await seed(aclient, keys)
    await RuleStore(aclient, keys).put(RULE.model_copy(update={"zones": ["lane"]}))
    prefix, book = topic_prefix(keys), AlertBook(aclient, keys)
    settings, topic = mqtt_settings(mosquitto.port, prefix), f"{prefix}/dock/lane/attributes"
    async with (
        running_publisher(aclient, keys, settings),
        subscribed(mosquitto.port, topic) as seen,
    ):
        await until(lambda: attributes(seen.latest(topic)) == {"zones": ["lane"]}, "the zones")
        for index in range(2):
            await apply(book, index, True)
        alert_id = await opened_alert(aclient, keys)
        await until(lambda: attributes(seen.latest(topic)).get("alert_id") == alert_id, "alert")
        for index in range(2, 6):
            await apply(book, index, False)
        await until(lambda: attributes(seen.latest(topic)).get("state") == "closed", "closed")
    assert attributes(seen.latest(topic))["zones"] == ["lane"]
    async with (
        subscribed(mosquitto.port, topic) as again,
        running_publisher(aclient, keys, settings),
    ):
        # the copy the broker kept, then the restarted publisher's: still the closed alert
        await until(lambda: len(again.payloads(topic)) >= 2, "the attributes published again")
    republished = attributes(again.payloads(topic)[1])
    assert (republished["alert_id"], republished["zones"]) == (alert_id, ["lane"])


def attributes(payload: str | None) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(payload) if payload else {}
    return found


async def test_a_wrong_password_is_recorded_without_the_password(
    aclient: aioredis.Redis,
    keys: Keys,
    mosquitto: EmbeddedMosquitto,
    caplog: pytest.LogCaptureFixture,
) -> None:
    wrong = "not-the-" + PASSWORD
    settings = mqtt_settings(mosquitto.auth_port, topic_prefix(keys), username=USER, password=wrong)
    caplog.set_level(logging.DEBUG)
    async with running_publisher(aclient, keys, settings) as task:
        await until(lambda: "login refused" in caplog.text, "the refusal logged")
        record = await health(aclient, keys)
        assert not task.done()
    assert record["state"] == "disconnected"
    assert "wrong username or password" in record["last_error"]
    assert record["broker"] == f"127.0.0.1:{mosquitto.auth_port}"
    assert wrong not in caplog.text
    assert wrong not in json.dumps(record)
    assert wrong not in repr(settings)


async def test_the_right_password_connects(
    aclient: aioredis.Redis, keys: Keys, mosquitto: EmbeddedMosquitto
) -> None:
    prefix = topic_prefix(keys)
    settings = mqtt_settings(mosquitto.auth_port, prefix, username=USER, password=PASSWORD)
    async with running_publisher(aclient, keys, settings):
        async with subscribed(mosquitto.port, f"{prefix}/available") as seen:
            # the two listeners share one broker: what the password listener got, both see
            await until(lambda: seen.latest(f"{prefix}/available") == "online", "online")
        assert (await health(aclient, keys))["state"] == "connected"


async def test_a_killed_publisher_leaves_its_last_will(
    aclient: aioredis.Redis, keys: Keys, mosquitto: EmbeddedMosquitto, redis_server: EmbeddedRedis
) -> None:
    await seed(aclient, keys)
    prefix = topic_prefix(keys)
    command = [sys.executable, "-m", "tests.mqtt.publisher_process", redis_server.url]
    process = await asyncio.create_subprocess_exec(
        *command, keys.prefix, str(mosquitto.port), cwd=REPO
    )
    try:
        async with subscribed(mosquitto.port, f"{prefix}/available") as seen:
            await until(lambda: seen.latest(f"{prefix}/available") == "online", "online")
            process.send_signal(signal.SIGKILL)
            # the broker notices the dead connection at once (the socket closes)
            await until(lambda: seen.latest(f"{prefix}/available") == "offline", "last will")
    finally:
        if process.returncode is None:
            process.kill()
        await asyncio.wait_for(process.wait(), WAIT_S)


async def test_a_broker_restart_loses_no_event_and_corrects_the_state(
    aclient: aioredis.Redis, keys: Keys, mosquitto: EmbeddedMosquitto
) -> None:
    await seed(aclient, keys)
    prefix, book = topic_prefix(keys), AlertBook(aclient, keys)
    identifier = f"{prefix}-listener"
    async with running_publisher(aclient, keys, mqtt_settings(mosquitto.port, prefix)):
        async with subscribed(mosquitto.port, f"{prefix}/#", identifier) as before:
            await until(lambda: before.latest(f"{prefix}/dock/lane/state") == "OFF", "OFF")
        await asyncio.to_thread(mosquitto.stop)
        await until_health(aclient, keys, "disconnected")
        for index in range(2):
            await apply(book, index, True)  # the alert opens while the broker is down
        await asyncio.to_thread(mosquitto.start)
        await until_health(aclient, keys, "connected")
        async with subscribed(mosquitto.port, f"{prefix}/#", identifier) as after:
            await until(lambda: after.payloads(f"{prefix}/alerts") != [], "the queued event")
            await until(lambda: after.latest(f"{prefix}/dock/lane/state") == "ON", "ON")
        async with subscribed(mosquitto.port, f"{prefix}/#") as fresh:
            await until(lambda: fresh.latest(f"{prefix}/dock/lane/state") == "ON", "retained ON")
    events = [json.loads(payload) for payload in after.payloads(f"{prefix}/alerts")]
    assert [event["type"] for event in events] == ["new"]
    assert await aclient.xpending(keys.outbox, MQTT_GROUP) == {
        "pending": 0, "min": None, "max": None, "consumers": [],
    }  # fmt: skip


async def test_an_event_after_a_publisher_restart_still_carries_its_before(
    aclient: aioredis.Redis, keys: Keys, mosquitto: EmbeddedMosquitto
) -> None:
    await seed(aclient, keys)
    prefix, book = topic_prefix(keys), AlertBook(aclient, keys)
    settings = mqtt_settings(mosquitto.port, prefix)
    async with subscribed(mosquitto.port, f"{prefix}/alerts") as seen:
        async with running_publisher(aclient, keys, settings):
            for index in range(2):
                await apply(book, index, True)
            await until(lambda: len(seen.payloads(f"{prefix}/alerts")) == 1, "new")
        await apply(book, 2, True)  # while no publisher runs
        async with running_publisher(aclient, keys, settings):
            await until(lambda: len(seen.payloads(f"{prefix}/alerts")) == 2, "update")
            for index in range(3, 7):
                await apply(book, index, False)
            await until(lambda: len(seen.payloads(f"{prefix}/alerts")) == 3, "end")
    new, update, end = (json.loads(payload) for payload in seen.payloads(f"{prefix}/alerts"))
    assert update["before"] == new["after"]
    assert end["before"] == update["after"]
    assert not await aclient.hlen(keys.mqtt_published)  # nothing kept once closed


async def until_health(client: aioredis.Redis, keys: Keys, state: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while (await health(client, keys)).get("state") != state:
        assert time.monotonic() < deadline, f"the health hash never said {state}"
        await asyncio.sleep(0.02)


async def test_a_camera_status_follows_its_ingest_health(
    aclient: aioredis.Redis, keys: Keys, mosquitto: EmbeddedMosquitto
) -> None:
    await seed(aclient, keys)
    prefix = topic_prefix(keys)
    status = f"{prefix}/dock/status"
    async with (
        running_publisher(aclient, keys, mqtt_settings(mosquitto.port, prefix)),
        subscribed(mosquitto.port, status) as seen,
    ):
        await until(lambda: seen.latest(status) == "offline", "offline before any report")
        # dated ahead so the record stays fresh however slowly the test runs
        reported = {"state": "online", "updated_at": f"{time.time() + 3600:.3f}"}
        await aclient.hset(keys.health("dock"), mapping=reported)  # as ingest's writer does
        await until(lambda: seen.latest(status) == "online", "online once ingest reports")
        await aclient.hset(keys.health("dock"), "state", "stalled")
        await until(lambda: seen.latest(status) == "offline", "offline when stalled")
