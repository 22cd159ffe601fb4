"""The alert book under concurrent writers, on a single Redis and on a Redis Cluster:
workers racing on one (camera, rule) write each window's effects exactly once."""

from __future__ import annotations

import asyncio
import json

import redis
import redis.asyncio as aioredis

from agent.pipeline.alert_book import AlertBook
from agent.pipeline.alert_records import AlertRecord, read_alert, record_from_hash
from agent.pipeline.alert_state import WindowResult
from agent.pipeline.places import call_marks, marks_from_json, rule_marks
from agent.pipeline.rules import Rule
from streams.bus.keys import Keys
from streams.zones import CameraZones, Zone
from tests.pipeline.evidence import fixed_frames

RULE = Rule(
    id="lane", question="Is a person in the lane?", consecutive=2, close_after_s=4.0,
    cooldown_s=0.0,
)  # fmt: skip
PATTERN = [True, True, True, False, False, False, True, True, False, False, False]
RACERS = 6


def windows() -> list[WindowResult]:
    start = 1_800_000_000_000
    return [
        WindowResult(start + i * 2000, start + i * 2000 + 2000, hit, 0.9 if hit else 0.1, "x")
        for i, hit in enumerate(PATTERN)
    ]


async def test_racing_writers_cause_each_event_once(
    bus_clients: tuple[redis.Redis, aioredis.Redis], keys: Keys
) -> None:
    _, client = bus_clients
    alone, raced = Keys(f"{keys.prefix}alone:"), Keys(f"{keys.prefix}raced:")
    sequential = AlertBook(client, alone)
    evidence = fixed_frames([b"\xff\xd8jpeg"], "dock")
    for window in windows():
        await sequential.apply("dock", RULE, window, evidence)
    books = [AlertBook(client, raced) for _ in range(RACERS)]
    for window in windows():
        await asyncio.gather(*(b.apply("dock", RULE, window, evidence) for b in books))

    expected = [fields[b"type"] for _, fields in await client.xrange(alone.alerts)]
    got = [fields[b"type"] for _, fields in await client.xrange(raced.alerts)]
    assert expected == [
        b"alert.opened", b"alert.updated", b"alert.closed", b"alert.opened", b"alert.closed",
    ]  # fmt: skip
    assert got == expected
    assert await client.xlen(raced.outbox) == len(expected)
    assert await client.xlen(raced.jobs) == 2  # one summary job per opened alert
    track, alone_track = raced.track("dock", "lane"), alone.track("dock", "lane")
    assert await client.hgetall(track) == await client.hgetall(alone_track)


async def test_a_track_write_from_a_stale_read_is_refused(
    bus_clients: tuple[redis.Redis, aioredis.Redis], keys: Keys
) -> None:
    _, client = bus_clients
    book = AlertBook(client, keys)
    first, second, third = windows()[3:6]  # negatives: they move the track, no event
    await book.apply("dock", RULE, first)
    key = keys.track("dock", "lane")
    stale = (await client.hget(key, "last_window_ms")).decode()
    await book.apply("dock", RULE, second)
    refused = await book._set_track_if(keys=[key], args=[stale, "last_window_ms", "1"])
    assert refused == 0
    assert int(await client.hget(key, "last_window_ms")) == second.start_ms
    await book.apply("dock", RULE, third)
    assert int(await client.hget(key, "last_window_ms")) == third.start_ms


async def test_an_alert_keeps_the_zones_it_was_judged_on(
    bus_clients: tuple[redis.Redis, aioredis.Redis], keys: Keys
) -> None:
    """The outlines of the rule's zones, as the call drew them, go into the opened alert's
    record and its event, and read back through the alert record."""
    _, client = bus_clients
    lane = Zone(name="lane", points=[(0.1, 0.6), (0.5, 0.6), (0.5, 0.9)])
    door = Zone(name="door", points=[(0.6, 0.1), (0.9, 0.1), (0.9, 0.4)])
    zoned = RULE.model_copy(update={"zones": ["lane"]})
    drawn, _ = call_marks([zoned], CameraZones(zones=[door, lane]))
    book = AlertBook(client, keys)
    for window in windows()[:2]:
        await book.apply("dock", zoned, window, marks=rule_marks(drawn, zoned))
    (opened,) = [fields for _, fields in await client.xrange(keys.alerts)]
    payload = json.loads(opened[b"payload"])
    expected = [
        {"name": "lane", "label": "A", "colour": "magenta", "hex": "#ff00ff",
         "points": [[0.1, 0.6], [0.5, 0.6], [0.5, 0.9]]},
    ]  # fmt: skip
    assert payload["zones"] == expected
    record = await read_alert(client, keys, payload["alert_id"])
    assert record is not None
    assert record.zones == expected
    assert marks_from_json(json.dumps(record.zones)) == rule_marks(drawn, zoned)


BASE_S = 1_800_000_000


def seen(start_s: int, first_s: float, last_s: float, detected: bool = True) -> WindowResult:
    """An 8 s window starting ``start_s`` after BASE_S, its evidence from ``first_s`` to
    ``last_s`` (seconds after BASE_S)."""
    return WindowResult(
        (BASE_S + start_s) * 1000, (BASE_S + start_s + 8) * 1000, detected,
        0.9 if detected else 0.1, "seen", round((BASE_S + first_s) * 1000),
        round((BASE_S + last_s) * 1000),
    )  # fmt: skip


async def test_last_seen_follows_the_positive_windows_and_the_evidence_stays(
    bus_clients: tuple[redis.Redis, aioredis.Redis], keys: Keys
) -> None:
    _, client = bus_clients
    book = AlertBook(client, keys)
    windows = [
        seen(0, 1.0, 6.0), seen(4, 4.0, 10.0),  # the streak: opens, seen until 10 s
        seen(8, 8.0, 20.0), seen(12, 12.0, 25.0),  # updates move last seen forward
        seen(16, 16.0, 18.0),  # a later window whose evidence ends earlier
        seen(12, 12.0, 30.0),  # a redelivered window, whatever it says now
        seen(24, 0.0, 0.0, detected=False),  # 8 s after the last positive window: closes
    ]  # fmt: skip
    types = []
    for window in windows:
        event = await book.apply("dock", RULE, window)
        types.append(event.type.value if event else None)
    assert types == [
        None, "alert.opened", "alert.updated", "alert.updated", "alert.updated", None,
        "alert.closed",
    ]  # fmt: skip
    payloads = [json.loads(fields[b"payload"]) for _, fields in await client.xrange(keys.alerts)]
    assert [(p["type"], p["last_seen"], p["seen_for_s"]) for p in payloads] == [
        ("alert.opened", BASE_S + 10.0, 9.0),
        ("alert.updated", BASE_S + 20.0, 19.0),
        ("alert.updated", BASE_S + 25.0, 24.0),
        ("alert.updated", BASE_S + 25.0, 24.0),
        ("alert.closed", BASE_S + 25.0, 24.0),
    ]
    record = await read_alert(client, keys, payloads[0]["alert_id"])
    assert record is not None
    assert record.evidence == {"start": BASE_S + 1.0, "end": BASE_S + 10.0}  # the opening's
    assert (record.onset_at, record.last_seen, record.seen_for_s) == (
        BASE_S + 1.0, BASE_S + 25.0, 24.0,
    )  # fmt: skip
    assert record.windows == 5
    # The last positive window's end, as ever (the one whose evidence ended earlier).
    last_positive = await client.hget(keys.alert(record.id), "last_positive_at")
    assert float(last_positive) == BASE_S + 24.0


def test_an_alert_written_before_last_seen_reads_back_without_it() -> None:
    older = {
        b"id": b"al_1", b"camera": b"dock", b"rule": b"lane", b"state": b"open",
        b"opened_at": b"1800000004.000", b"onset_at": b"1800000001.000",
        b"evidence": b'{"start": 1800000001.0, "end": 1800000010.0}',
    }  # fmt: skip
    record = record_from_hash(older)
    assert (record.last_seen, record.seen_for_s) == (None, None)
    assert record.model_dump()["seen_for_s"] is None
    again = record_from_hash({**older, b"last_seen": b"1800000025.000"})
    assert again.seen_for_s == 24.0
    assert AlertRecord.model_validate_json(again.model_dump_json()) == again
