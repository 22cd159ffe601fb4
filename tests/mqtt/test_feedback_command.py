"""Feedback on alerts from MQTT against a real Mosquitto and Redis: a bare verdict reaches
the rule's newest alert on the camera, JSON a named one with its note and times, stored
by ``mqtt`` with its ``alert.feedback`` event; refused when commands are off or not
allowed, and when malformed or about an alert that is not the camera's and rule's."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, cast

import aiomqtt
import pytest
import redis.asyncio as aioredis

from agent.mqtt import topics
from agent.pipeline.alert_book import AlertBook
from agent.pipeline.alert_records import AlertRecord, read_alert
from agent.pipeline.alert_state import EventType, WindowResult
from agent.pipeline.feedback import count_field
from agent.pipeline.rules import Rule
from agent.runtime.embedded_mosquitto import EmbeddedMosquitto
from streams.bus.keys import Keys
from tests.mqtt.conftest import (
    RULE,
    mqtt_settings,
    running_publisher,
    seed,
    subscribed,
    topic_prefix,
    until,
)
from tests.pipeline.evidence import fixed_frames

START_MS = 1_800_000_000_000
SMOKE = RULE.model_copy(update={"id": "smoke", "question": "Is there smoke?"})
FRAMES = fixed_frames([b"\xff\xd8jpeg"], "dock")
Alerts = dict[str, str]  # old_lane, lane (the newest of lane), smoke (the newest of all)


async def command(port: int, topic: str, payload: str) -> None:
    async with aiomqtt.Client("127.0.0.1", port) as mqtt:
        await mqtt.publish(topic, payload, qos=1)


def window(index: int, hit: bool) -> WindowResult:
    start = START_MS + index * 2000
    return WindowResult(start, start + 2000, hit, 0.9 if hit else 0.1, f"window {index}")


async def open_alert(book: AlertBook, rule: Rule, first: int) -> str:
    """An alert of the rule on dock, opened by two positive windows from ``first``."""
    await book.apply("dock", rule, window(first, True), FRAMES)
    event = await book.apply("dock", rule, window(first + 1, True), FRAMES)
    assert event is not None
    assert event.type is EventType.OPENED
    return event.alert_id


@pytest.fixture
async def alerts(aclient: aioredis.Redis, keys: Keys) -> Alerts:
    """On dock: a closed alert of lane, a newer open one of lane, and a newer one of smoke."""
    await seed(aclient, keys)
    book = AlertBook(aclient, keys)
    old_lane = await open_alert(book, RULE, 0)
    for index in range(2, 6):
        await book.apply("dock", RULE, window(index, False))
    assert (await record(aclient, keys, old_lane)).state == "closed"
    lane = await open_alert(book, RULE, 10)
    smoke = await open_alert(book, SMOKE, 20)
    return {"old_lane": old_lane, "lane": lane, "smoke": smoke}


async def record(client: aioredis.Redis, keys: Keys, alert_id: str) -> AlertRecord:
    found = await read_alert(client, keys, alert_id)
    assert found is not None
    return found


async def outbox_types(client: aioredis.Redis, keys: Keys) -> list[tuple[str, str]]:
    entries = cast(list[tuple[bytes, dict[bytes, bytes]]], await client.xrange(keys.outbox))
    return [(fields[b"type"].decode(), fields[b"alert_id"].decode()) for _, fields in entries]


async def redis_state(client: aioredis.Redis, keys: Keys, alerts: Alerts) -> list[Any]:
    """What feedback would change: the alerts' hashes, the outbox and the counts."""
    hashes = [await client.hgetall(keys.alert(alert_id)) for alert_id in alerts.values()]
    return [hashes, await client.xlen(keys.outbox), await client.hgetall(keys.feedback_counts)]


def logged(caplog: pytest.LogCaptureFixture, text: str) -> bool:
    return any(text in entry.getMessage() for entry in caplog.records)


async def test_a_bare_verdict_is_feedback_on_the_newest_alert_of_the_camera_and_rule(
    aclient: aioredis.Redis,
    keys: Keys,
    mosquitto: EmbeddedMosquitto,
    alerts: Alerts,
    caplog: pytest.LogCaptureFixture,
) -> None:
    prefix = topic_prefix(keys)
    settings = mqtt_settings(mosquitto.port, prefix, commands=True)
    caplog.set_level(logging.INFO, logger="agent.mqtt")
    async with running_publisher(aclient, keys, settings):
        await until_online(mosquitto.port, prefix)
        await command(mosquitto.port, topics.feedback_set(prefix, "dock", "lane"), " FALSE_Alarm\n")
        await until(lambda: logged(caplog, f"alert {alerts['lane']} false_alarm"), "feedback")
    feedback = (await record(aclient, keys, alerts["lane"])).feedback
    assert feedback is not None
    assert (feedback.verdict, feedback.by, feedback.note) == ("false_alarm", "mqtt", "")
    assert (await record(aclient, keys, alerts["old_lane"])).feedback is None
    assert (await record(aclient, keys, alerts["smoke"])).feedback is None  # newer, not lane
    assert (await outbox_types(aclient, keys))[-1] == (EventType.FEEDBACK.value, alerts["lane"])
    counts = await aclient.hgetall(keys.feedback_counts)
    assert counts == {count_field("lane", "dock", "false_alarm").encode(): b"1"}


async def test_json_names_the_alert_with_a_note_onset_and_end_and_is_published(
    aclient: aioredis.Redis,
    keys: Keys,
    mosquitto: EmbeddedMosquitto,
    alerts: Alerts,
    caplog: pytest.LogCaptureFixture,
) -> None:
    prefix = topic_prefix(keys)
    settings = mqtt_settings(mosquitto.port, prefix, commands=True, command_allow=["dock/lane"])
    onset, end = START_MS / 1000 - 3, START_MS / 1000 + 9.5
    given = {
        "alert_id": alerts["old_lane"], "verdict": "confirmed", "note": "a forklift, really",
        "onset": onset, "end": end,
    }  # fmt: skip
    caplog.set_level(logging.INFO, logger="agent.mqtt")
    async with (
        running_publisher(aclient, keys, settings),
        subscribed(mosquitto.port, topics.alerts(prefix)) as seen,
    ):
        await until_online(mosquitto.port, prefix)
        await command(mosquitto.port, f"{prefix}/dock/lane/feedback/set", json.dumps(given))
        await until(
            lambda: bool(published_feedback(seen.payloads(topics.alerts(prefix)))), "published"
        )
    feedback = (await record(aclient, keys, alerts["old_lane"])).feedback
    assert feedback is not None
    assert feedback.model_dump(exclude={"at"}) == {
        "verdict": "confirmed", "note": "a forklift, really", "onset": onset, "end": end,
        "by": "mqtt",
    }  # fmt: skip
    assert (await record(aclient, keys, alerts["lane"])).feedback is None
    event = published_feedback(seen.payloads(topics.alerts(prefix)))
    assert event is not None
    assert event["after"]["id"] == alerts["old_lane"]
    assert event["after"]["feedback"]["by"] == "mqtt"


def published_feedback(payloads: list[str]) -> dict[str, Any] | None:
    events = [json.loads(payload) for payload in payloads]
    return next((event for event in events if event["type"] == "feedback"), None)


@pytest.mark.parametrize(
    ("overrides", "logged_text"),
    [
        ({}, None),  # commands off by default: not subscribed
        ({"commands": True, "command_allow": ["dock/smoke", "gate"]}, "refused"),
    ],
    ids=["off", "not-allowed"],
)
async def test_feedback_is_refused_when_commands_are_off_or_not_allowed(
    aclient: aioredis.Redis,
    keys: Keys,
    mosquitto: EmbeddedMosquitto,
    alerts: Alerts,
    caplog: pytest.LogCaptureFixture,
    overrides: dict[str, object],
    logged_text: str | None,
) -> None:
    prefix = topic_prefix(keys)
    settings = mqtt_settings(mosquitto.port, prefix, **overrides)
    before = await redis_state(aclient, keys, alerts)
    caplog.set_level(logging.WARNING, logger="agent.mqtt")
    async with running_publisher(aclient, keys, settings):
        await until_online(mosquitto.port, prefix)
        await command(mosquitto.port, f"{prefix}/dock/lane/feedback/set", "confirmed")
        if logged_text is None:
            await asyncio.sleep(1.0)
        else:
            await until(lambda: logged(caplog, logged_text), logged_text)
    assert await redis_state(aclient, keys, alerts) == before


REFUSED = [  # topic (under the prefix), payload (SMOKE: that alert's id), why it is logged
    ("dock/lane", '{"verdict": ', "not JSON"),
    ("dock/lane", '["confirmed"]', "must be confirmed, false_alarm or a JSON object"),
    ("dock/lane", "maybe", "must be confirmed, false_alarm or a JSON object"),
    ("dock/lane", '{"verdict": "maybe"}', "verdict: Input should be"),
    ("dock/lane", '{"verdict": "false_alarm", "onset": 1800000000}', "no onset or end"),
    ("dock/lane", '{"verdict": "confirmed", "by": "admin"}', "by: Extra inputs"),
    ("dock/lane", '{"verdict": "confirmed", "note": "' + "x" * 501 + '"}', "note: String"),
    ("dock/lane", '{"alert_id": "../al_1", "verdict": "confirmed"}', "alert_id must be"),
    ("dock/lane", '{"alert_id": "SMOKE", "verdict": "confirmed"}', "is of smoke on dock"),
    ("dock/lane", '{"alert_id": "al_0123", "verdict": "confirmed"}', "no alert al_0123"),
    ("dock/door", "confirmed", "no alert of door on dock"),
    ("gate/smoke", '{"alert_id": "SMOKE", "verdict": "confirmed"}', "not smoke on gate"),
]


async def test_malformed_or_misdirected_feedback_changes_nothing(
    aclient: aioredis.Redis,
    keys: Keys,
    mosquitto: EmbeddedMosquitto,
    alerts: Alerts,
    caplog: pytest.LogCaptureFixture,
) -> None:
    prefix = topic_prefix(keys)
    settings = mqtt_settings(mosquitto.port, prefix, commands=True)
    before = await redis_state(aclient, keys, alerts)
    caplog.set_level(logging.WARNING, logger="agent.mqtt")
    async with running_publisher(aclient, keys, settings):
        await until_online(mosquitto.port, prefix)
        for target, payload, why in REFUSED:
            caplog.clear()
            topic = f"{prefix}/{target}/feedback/set"
            await command(mosquitto.port, topic, payload.replace("SMOKE", alerts["smoke"]))
            await until(lambda: logged(caplog, why), f"{payload[:40]} on {target}: {why}")  # noqa: B023
    assert await redis_state(aclient, keys, alerts) == before


async def until_online(port: int, prefix: str) -> None:
    async with subscribed(port, f"{prefix}/available") as seen:
        await until(lambda: seen.latest(f"{prefix}/available") == "online", "online")


def test_feedback_topics_are_told_from_switch_topics() -> None:
    assert topics.feedback_set("vigil", "dock", "lane") == "vigil/dock/lane/feedback/set"
    assert topics.feedback_target("vigil", "vigil/dock/lane/feedback/set") == ("dock", "lane")
    assert topics.feedback_target("vigil", "vigil/dock/feedback/set") is None
    assert topics.feedback_target("vigil", "other/dock/lane/feedback/set") is None
    assert topics.feedback_target("vigil", "vigil/dock/lane/enabled/set") is None
    assert topics.command_target("vigil", "vigil/dock/lane/feedback/set") is None
    assert "vigil/+/+/feedback/set" in topics.command_filters("vigil")
