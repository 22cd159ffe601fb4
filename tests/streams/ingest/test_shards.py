"""Ingest shards sharing cameras through leases on a real Redis and a real Redis Cluster."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis

from agent.runtime.startup import connect
from streams.bus.keys import Keys
from streams.ingest.shards import IngestShard
from tests.conftest import RedisTarget

CAMERAS = [f"cam-{index}" for index in range(8)]
LEASE_S = 1.5


@pytest.fixture
def redis_client(redis_target: RedisTarget) -> Iterator[redis.Redis]:
    with connect(redis_target.url, redis_target.cluster) as client:
        yield client


def shard(client: redis.Redis, keys: Keys, name: str) -> IngestShard:
    return IngestShard(client, keys, name, LEASE_S)


def holders(client: redis.Redis, keys: Keys) -> dict[str, str]:
    values = [client.get(keys.ingest_lease(camera)) for camera in CAMERAS]
    return {camera: value.decode() for camera, value in zip(CAMERAS, values, strict=True) if value}


def settle(*shards: IngestShard, rounds: int = 3) -> dict[str, frozenset[str]]:
    """Steps every shard a few times the way the runner does; the cameras each reads."""
    reading: dict[str, frozenset[str]] = {}
    for _ in range(rounds):
        for each in shards:
            step = each.step(CAMERAS)
            each.release(step.give_back)
            reading[each.id] = step.readable
            assert_disjoint(reading)
    return reading


def assert_disjoint(reading: dict[str, frozenset[str]]) -> None:
    seen: set[str] = set()
    for cameras in reading.values():
        assert not cameras & seen, f"a camera is read twice: {reading}"
        seen |= cameras


def test_one_shard_reads_every_camera_and_holds_their_leases(
    redis_client: redis.Redis, keys: Keys
) -> None:
    only = shard(redis_client, keys, "only")
    step = only.step(CAMERAS)
    assert step.readable == set(CAMERAS)
    assert step.live_shards == ("only",)
    assert holders(redis_client, keys) == dict.fromkeys(CAMERAS, "only")
    assert 0 < redis_client.pttl(keys.ingest_lease("cam-0")) <= LEASE_S * 1000


def test_a_new_shard_takes_half_without_a_camera_read_twice(
    redis_client: redis.Redis, keys: Keys
) -> None:
    first = shard(redis_client, keys, "first")
    assert settle(first)["first"] == set(CAMERAS)
    second = shard(redis_client, keys, "second")
    reading = settle(first, second)
    assert len(reading["first"]) == len(reading["second"]) == 4
    assert reading["first"] | reading["second"] == set(CAMERAS)
    assert holders(redis_client, keys) == {
        camera: name for name, cameras in reading.items() for camera in cameras
    }


def test_a_dead_shard_s_cameras_move_when_its_leases_expire(
    redis_client: redis.Redis, keys: Keys
) -> None:
    survivor, doomed = shard(redis_client, keys, "survivor"), shard(redis_client, keys, "doomed")
    reading = settle(survivor, doomed)
    orphans = reading["doomed"]
    step = survivor.step(CAMERAS)
    assert step.readable == reading["survivor"], "leases held by a live shard stay put"
    assert step.wake_in_s <= LEASE_S / 3 + 0.1
    died_at = time.monotonic()
    while True:  # the survivor steps when told to; the dead shard never again
        time.sleep(step.wake_in_s)
        step = survivor.step(CAMERAS)
        if step.readable == set(CAMERAS):
            break
        assert time.monotonic() - died_at < LEASE_S + 1.0
    assert time.monotonic() - died_at <= LEASE_S + 0.3
    assert step.live_shards == ("survivor",)
    assert all(holders(redis_client, keys)[camera] == "survivor" for camera in orphans)


def test_a_shard_that_leaves_hands_over_at_once(redis_client: redis.Redis, keys: Keys) -> None:
    staying, leaving = shard(redis_client, keys, "staying"), shard(redis_client, keys, "leaving")
    settle(staying, leaving)
    leaving.leave()
    assert staying.step(CAMERAS).readable == set(CAMERAS)
    assert redis_client.zrange(keys.ingest_shards, 0, -1) == [b"staying"]


def test_removed_cameras_are_given_back(redis_client: redis.Redis, keys: Keys) -> None:
    only = shard(redis_client, keys, "only")
    only.step(CAMERAS)
    step = only.step(CAMERAS[:3])
    assert step.readable == set(CAMERAS[:3])
    assert step.give_back == set(CAMERAS[3:])
    only.release(step.give_back)
    assert set(holders(redis_client, keys)) == set(CAMERAS[:3])


def test_without_redis_leases_count_down_on_the_local_clock(
    redis_client: redis.Redis, keys: Keys
) -> None:
    only = shard(redis_client, keys, "only")
    only.step(CAMERAS)
    assert only.still_valid() == set(CAMERAS)
    broken = IngestShard(redis.Redis(port=1, socket_connect_timeout=0.2), keys, "only", LEASE_S)
    with pytest.raises(redis.ConnectionError):
        broken.step(CAMERAS)
    time.sleep(LEASE_S + 0.1)
    assert only.still_valid() == set()
