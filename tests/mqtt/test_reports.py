"""A report's ``report.ready`` event against a real Mosquitto and Redis: once on
``<prefix>/reports``, retained on each camera's ``last_report``, beside the alert events;
one that does not parse is dead-lettered, and one the broker did not take is sent again."""

from __future__ import annotations

import json
from typing import Any

import aiomqtt
import pytest
import redis.asyncio as aioredis

from agent.mqtt.report_events import is_report_event, report_event
from agent.pipeline.alert_book import AlertBook
from agent.reports.delivery import deliver, ready_payload
from agent.reports.models import Report, RuleCount
from agent.runtime.embedded_mosquitto import EmbeddedMosquitto
from streams.bus.dead_letters import PoisonError
from streams.bus.keys import Keys
from tests.mqtt.conftest import (
    BASE_URL,
    mqtt_settings,
    running_publisher,
    seed,
    subscribed,
    topic_prefix,
    until,
)
from tests.mqtt.test_dead_letters import dead, pending
from tests.mqtt.test_publisher import apply

CAMERAS = ("dock", "yard.2")  # ids as they are in topics, "." and all


def shift_report(cameras: tuple[str, ...] = CAMERAS) -> Report:
    count = RuleCount(
        rule="lane", camera="dock", alerts=2, windows=5, occurrences=2, first=10.0, last=90.0
    )
    return Report(
        id="rep_night_1", schedule="night", cameras=list(cameras), since=0.0, until=3600.0,
        created_at=3601.0, notable=True, counts=[count], timeline=[],
        summary="Two people crossed the lane.", windows=[], cited=[],
    )  # fmt: skip


def published(report: Report) -> dict[str, Any]:
    """What subscribers should get: the event's payload with the report's links."""
    url = f"{BASE_URL}/v1/reports/{report.id}"
    return ready_payload(report) | {"links": {"report": url, "print": f"{url}/print"}}


def parsed(payload: str | None) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(payload) if payload else {}
    return found


async def test_a_report_goes_to_reports_once_and_retained_to_each_camera(
    aclient: aioredis.Redis, keys: Keys, mosquitto: EmbeddedMosquitto
) -> None:
    await seed(aclient, keys)
    prefix, report = topic_prefix(keys), shift_report()
    async with (
        running_publisher(aclient, keys, mqtt_settings(mosquitto.port, prefix)),
        subscribed(mosquitto.port, f"{prefix}/reports") as live,
    ):
        await deliver(aclient, keys, report, once=False)
        await until(lambda: live.payloads(f"{prefix}/reports") != [], "the report")
        async with subscribed(mosquitto.port, f"{prefix}/#") as fresh:
            wanted = [f"{prefix}/{camera}/last_report" for camera in CAMERAS]
            await until(lambda: all(fresh.latest(t) for t in wanted), "the retained reports")
    assert [parsed(p) for p in live.payloads(f"{prefix}/reports")] == [published(report)]
    assert [retained for _, _, retained in live.messages] == [False]
    for topic in wanted:
        assert parsed(fresh.latest(topic)) == published(report)
        assert all(retained for name, _, retained in fresh.messages if name == topic)
    # the retained messages come together on subscribing: none of them is the event
    assert fresh.payloads(f"{prefix}/reports") == []
    assert await pending(aclient, keys) == 0
    assert await dead(aclient, keys) == []


async def test_alert_events_around_a_report_still_go_out(
    aclient: aioredis.Redis, keys: Keys, mosquitto: EmbeddedMosquitto
) -> None:
    await seed(aclient, keys)
    prefix, book = topic_prefix(keys), AlertBook(aclient, keys)
    for index in range(2):
        await apply(book, index, True)  # "new" waits in the outbox
    await deliver(aclient, keys, shift_report(cameras=("dock",)), once=False)
    await apply(book, 2, True)  # "update", after the report
    async with (
        subscribed(mosquitto.port, f"{prefix}/#") as seen,
        running_publisher(aclient, keys, mqtt_settings(mosquitto.port, prefix)),
    ):
        await until(lambda: len(seen.payloads(f"{prefix}/alerts")) == 2, "both alert events")
        await until(lambda: seen.payloads(f"{prefix}/reports") != [], "the report")
    assert [parsed(p)["type"] for p in seen.payloads(f"{prefix}/alerts")] == ["new", "update"]
    assert seen.latest(f"{prefix}/dock/lane/state") == "ON"
    assert parsed(seen.latest(f"{prefix}/dock/last_report"))["report_id"] == "rep_night_1"
    assert await pending(aclient, keys) == 0


async def test_a_report_event_that_does_not_parse_is_dead_lettered_and_the_next_goes_out(
    aclient: aioredis.Redis, keys: Keys, mosquitto: EmbeddedMosquitto
) -> None:
    await seed(aclient, keys)
    prefix = topic_prefix(keys)
    broken = {"type": "report.ready", "report_id": "rep_bad", "camera": "dock", "payload": "{"}
    await aclient.xadd(keys.outbox, broken)  # type: ignore[arg-type]
    await aclient.xadd(keys.outbox, {"type": "camera.noted", "camera": "dock"})
    await deliver(aclient, keys, shift_report(), once=False)
    async with (
        subscribed(mosquitto.port, f"{prefix}/reports") as seen,
        running_publisher(aclient, keys, mqtt_settings(mosquitto.port, prefix)) as task,
    ):
        await until(lambda: seen.payloads(f"{prefix}/reports") != [], "the good report")
        assert not task.done()
    assert [parsed(p)["report_id"] for p in seen.payloads(f"{prefix}/reports")] == ["rep_night_1"]
    dead_letters = await dead(aclient, keys)
    assert [letter[b"report_id"] for letter in dead_letters] == [b"rep_bad"]
    assert b"does not parse" in dead_letters[0][b"error"]
    assert await pending(aclient, keys) == 0  # the entry of no kind: acked, as before


async def test_a_report_the_broker_did_not_take_is_sent_again(
    aclient: aioredis.Redis,
    keys: Keys,
    mosquitto: EmbeddedMosquitto,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await seed(aclient, keys)
    prefix = topic_prefix(keys)
    publish, refused = aiomqtt.Client.publish, []

    async def refuses_first(self: aiomqtt.Client, topic: str, *args: Any, **kwargs: Any) -> Any:
        if topic == f"{prefix}/reports" and not refused:
            refused.append(topic)
            raise aiomqtt.MqttError("connection lost")
        return await publish(self, topic, *args, **kwargs)

    monkeypatch.setattr(aiomqtt.Client, "publish", refuses_first)
    async with (
        subscribed(mosquitto.port, f"{prefix}/reports") as seen,
        running_publisher(aclient, keys, mqtt_settings(mosquitto.port, prefix)),
    ):
        await deliver(aclient, keys, shift_report(), once=False)
        await until(lambda: seen.payloads(f"{prefix}/reports") != [], "the report, again")
    assert refused
    assert len(seen.payloads(f"{prefix}/reports")) == 1
    assert await pending(aclient, keys) == 0
    assert await dead(aclient, keys) == []


@pytest.mark.parametrize(
    "fields",
    [
        {b"type": b"report.ready", b"payload": b"{}"},  # no report id
        {b"type": b"report.ready", b"report_id": b"r", b"payload": b"[]"},
        {b"type": b"report.ready", b"report_id": b"r", b"payload": b'{"cameras": "dock"}'},
        {b"type": b"report.ready", b"report_id": b"r", b"payload": b'{"cameras": ["a/b"]}'},
        {b"type": b"report.ready", b"report_id": b"r", b"payload": b'{"cameras": ["#"]}'},
    ],
)
def test_a_report_event_that_cannot_be_published_is_poison(fields: dict[bytes, bytes]) -> None:
    assert is_report_event(fields)
    with pytest.raises(PoisonError):
        report_event(fields)


def test_only_report_ready_is_a_report_event() -> None:
    assert not is_report_event({b"type": b"alert.opened", b"alert_id": b"a"})
    assert not is_report_event({b"camera": b"dock"})
