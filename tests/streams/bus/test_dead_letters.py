"""Dead letters of a consumer group, on a real Redis: poison moves at once, other failures
after ``max_failures``; a moved entry is acked, keeps its fields and error, and is counted."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from streams.bus.consumer_group import Entry, GroupReader, ensure_group
from streams.bus.dead_letters import DeadLetters, PoisonError, unreadable
from streams.bus.keys import MQTT_GROUP, Keys


async def read_one(client: aioredis.Redis, keys: Keys, fields: dict[str, str]) -> Entry:
    await ensure_group(client, keys.outbox, MQTT_GROUP)
    await client.xadd(keys.outbox, fields)  # type: ignore[arg-type]
    reader = GroupReader(client, keys.outbox, MQTT_GROUP, "test", 10, 60_000)
    [entry] = await reader.next_batch(100)
    return entry


async def pending(client: aioredis.Redis, keys: Keys) -> int:
    return int((await client.xpending(keys.outbox, MQTT_GROUP))["pending"])


async def test_poison_moves_at_once_with_its_error_and_is_acked(
    aclient: aioredis.Redis, keys: Keys
) -> None:
    entry = await read_one(aclient, keys, {"type": "new", "alert_id": "a1"})
    dead_letters = DeadLetters(aclient, keys, MQTT_GROUP)
    with pytest.raises(PoisonError) as caught, unreadable("the alert record"):
        raise ValueError("Expecting value: line 1 column 1")
    assert await dead_letters.failed(entry, caught.value)
    [(_, dead)] = await aclient.xrange(keys.dead_mqtt)
    assert dead[b"alert_id"] == b"a1"
    assert dead[b"entry_id"] == entry[0]
    assert dead[b"group"] == b"mqtt"
    assert dead[b"error"].startswith(b"PoisonError: the alert record does not parse")
    assert await pending(aclient, keys) == 0
    assert await aclient.hget(keys.metrics, "dead_letters:mqtt") == b"1"
    assert await aclient.hlen(keys.entry_failures) == 0


async def test_other_failures_move_only_after_max_failures(
    aclient: aioredis.Redis, keys: Keys
) -> None:
    entry = await read_one(aclient, keys, {"type": "new", "alert_id": "a2"})
    dead_letters = DeadLetters(aclient, keys, MQTT_GROUP, max_failures=3)
    assert not await dead_letters.failed(entry, RuntimeError("bug"))
    assert not await dead_letters.failed(entry, RuntimeError("bug"))
    assert await aclient.xlen(keys.dead_mqtt) == 0
    assert await pending(aclient, keys) == 1  # still there to be tried again
    assert await dead_letters.failed(entry, RuntimeError("bug, third time"))
    [(_, dead)] = await aclient.xrange(keys.dead_mqtt)
    assert dead[b"error"] == b"RuntimeError: bug, third time"
    assert await pending(aclient, keys) == 0


async def test_an_ack_forgets_the_failures_so_far(aclient: aioredis.Redis, keys: Keys) -> None:
    entry = await read_one(aclient, keys, {"type": "new", "alert_id": "a3"})
    dead_letters = DeadLetters(aclient, keys, MQTT_GROUP, max_failures=2)
    assert not await dead_letters.failed(entry, RuntimeError("once"))
    await dead_letters.ack([entry[0]])
    assert await pending(aclient, keys) == 0
    assert await aclient.hlen(keys.entry_failures) == 0
