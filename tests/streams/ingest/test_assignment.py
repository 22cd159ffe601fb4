"""Which shard reads which camera: balanced, the same everywhere, little movement."""

from __future__ import annotations

from collections import Counter

import pytest

from streams.ingest.assignment import assign

CAMERAS = [f"cam-{index}" for index in range(20)]


@pytest.mark.parametrize("shards", [1, 2, 3, 7, 25])
def test_every_camera_has_one_shard_and_loads_differ_by_at_most_one(shards: int) -> None:
    shard_ids = [f"host-{index}" for index in range(shards)]
    owners = assign(CAMERAS, shard_ids)
    assert sorted(owners) == sorted(CAMERAS)
    loads = Counter(owners.values())
    busiest = max(loads.values())
    assert busiest - min(loads.get(shard, 0) for shard in shard_ids) <= 1


def test_the_answer_does_not_depend_on_order_or_repeats() -> None:
    shards = ["b-2", "a-1", "c-3"]
    assert assign(CAMERAS, shards) == assign(reversed(CAMERAS), [*sorted(shards), "a-1"])


def test_no_shard_no_owner() -> None:
    assert assign(CAMERAS, []) == {}
    assert assign([], ["a"]) == {}


def test_a_new_shard_takes_its_share_and_most_cameras_stay_where_they_were() -> None:
    before = assign(CAMERAS, ["a", "b"])
    after = assign(CAMERAS, ["a", "b", "c"])
    assert Counter(after.values())["c"] >= 6
    moved = [camera for camera in CAMERAS if after[camera] != before[camera]]
    assert len(moved) <= 10
    survivors = assign(CAMERAS, ["a", "c"])
    assert Counter(survivors.values()) == {"a": 10, "c": 10}
