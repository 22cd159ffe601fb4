"""The alert book under concurrent writers, on a single Redis and on a Redis Cluster:
workers racing on one (camera, rule) write each window's effects exactly once."""

from __future__ import annotations

import asyncio
import json

import redis
import redis.asyncio as aioredis

from agent.pipeline.alert_book import AlertBook
from agent.pipeline.alert_records import read_alert
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
