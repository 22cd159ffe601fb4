"""Closed alerts moving from Redis to the archive, against real Redis, real LanceDB and the
real embedding model: archived with their windows, summary and evidence clip, deleted
from Redis past the hot retention while open ones stay, nothing lost and nothing twice
when the archiver dies mid-move, an acknowledgement during a move kept, alerts from
before the indexes adopted, and Redis memory flat over a long run."""

from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path

import av
import pytest
import redis.asyncio as aioredis

from agent.archive.alert_mover import AlertMover, index_earlier_alerts
from agent.archive.alert_rows import AlertRows
from agent.archive.alert_store import AlertStore
from agent.archive.blobs import BlobStore
from agent.archive.embedder import Embedder
from agent.archive.settings import ArchiveSettings
from agent.bench.alert_retention import (
    RULE,
    RetentionConfig,
    evidence_jpegs,
    redis_bytes_per_alert_after_retention,
)
from agent.pipeline.alert_book import AlertBook
from agent.pipeline.alert_state import WindowResult
from agent.pipeline.settings import AlertSettings
from streams.bus.keys import Keys
from tests.pipeline.evidence import fixed_frames

SETTINGS = AlertSettings(hot_retention_h=1.0, summary_wait_s=0.0)
FRAMES = evidence_jpegs(RetentionConfig(frames=6, width=320, height=208))
HOUR_MS = 3_600_000


@pytest.fixture
async def store(tmp_path: Path, embedder: Embedder) -> AlertStore:
    archive = ArchiveSettings()
    return await AlertStore.open(archive, tmp_path, embedder.dim, BlobStore.open(archive, tmp_path))


def mover_of(
    client: aioredis.Redis, keys: Keys, store: AlertStore, embedder: Embedder
) -> AlertMover:
    return AlertMover(client, keys, SETTINGS, store, AlertRows(client, keys, store, embedder, 4.0))


async def write_alerts(
    client: aioredis.Redis,
    keys: Keys,
    count: int,
    hours_ago: float,
    close: bool = True,
    camera: str = "cam1",
) -> list[str]:
    """``count`` alerts on ``camera`` whose windows ran ``hours_ago``; closed unless not."""
    book = AlertBook(client, keys)
    start = int(time.time() * 1000) - round(hours_ago * HOUR_MS)
    ids = []
    for number in range(count):
        at = start + number * 20_000
        opening = WindowResult(at, at + 8000, True, 0.9, f"person {number} in the lane")
        event = await book.apply(camera, RULE, opening, fixed_frames(FRAMES, camera))
        assert event is not None
        ids.append(event.alert_id)
        if close:
            closing = WindowResult(at + 10_000, at + 18_000, False, 0.1, "the lane is empty")
            await book.apply(camera, RULE, closing)
    return ids


async def held(client: aioredis.Redis, keys: Keys, alert_id: str) -> bool:
    found = await client.exists(
        keys.alert(alert_id), keys.evidence(alert_id), keys.alert_windows(alert_id)
    )
    return bool(found)


async def test_alerts_past_retention_move_to_the_archive_with_their_clip(
    aclient: aioredis.Redis, keys: Keys, store: AlertStore, embedder: Embedder
) -> None:
    old = await write_alerts(aclient, keys, 3, hours_ago=3)
    recent = await write_alerts(aclient, keys, 1, hours_ago=0.1)
    still_open = await write_alerts(aclient, keys, 1, hours_ago=0.05, close=False)
    mover = mover_of(aclient, keys, store, embedder)
    assert await mover.archive_settled() == 4  # every closed alert, the recent one too
    assert await mover.move_expired() == 3
    for alert_id in old:
        assert not await held(aclient, keys, alert_id)
    assert await held(aclient, keys, recent[0])
    assert await held(aclient, keys, still_open[0])
    assert await store.count() == 4
    archived = await store.alert(old[0])
    assert archived is not None
    assert archived.record.state == "closed"
    assert archived.record.description == "person 0 in the lane"
    assert [window["type"] for window in archived.windows] == ["alert.opened", "alert.closed"]
    assert archived.clip_uri is not None
    clip = store.blobs.get(archived.clip_uri)
    assert clip is not None
    with av.open(io.BytesIO(clip)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert sum(1 for _ in container.decode(video=0)) == len(FRAMES)
    assert await aclient.zcard(keys.alert_index) == 2
    assert await aclient.zcard(keys.camera_alert_index("cam1")) == 2
    assert await aclient.zcard(keys.closed_alerts) == 1
    assert await aclient.zcard(keys.alerts_to_archive) == 0


async def test_an_archiver_killed_mid_move_loses_nothing_and_archives_nothing_twice(
    aclient: aioredis.Redis, keys: Keys, store: AlertStore, embedder: Embedder
) -> None:
    ids = await write_alerts(aclient, keys, 4, hours_ago=3)
    committed = asyncio.Event()
    real_upsert = store.upsert

    async def upsert_then_die(rows: object) -> None:
        await real_upsert(rows)  # type: ignore[arg-type]
        committed.set()
        await asyncio.Event().wait()  # killed here: after the commit, before any delete

    store.upsert = upsert_then_die  # type: ignore[method-assign]
    dying = asyncio.create_task(mover_of(aclient, keys, store, embedder).move_expired())
    await asyncio.wait_for(committed.wait(), 60)
    dying.cancel()
    with pytest.raises(asyncio.CancelledError):
        await dying
    store.upsert = real_upsert  # type: ignore[method-assign]
    assert all([await held(aclient, keys, alert_id) for alert_id in ids])
    assert await store.count() == 4
    assert await mover_of(aclient, keys, store, embedder).move_expired() == 4
    assert await store.count() == 4
    assert not any([await held(aclient, keys, alert_id) for alert_id in ids])
    assert {(await store.alert(alert_id)) is not None for alert_id in ids} == {True}


async def test_an_alert_acknowledged_during_its_move_stays_until_archived_as_acknowledged(
    aclient: aioredis.Redis, keys: Keys, store: AlertStore, embedder: Embedder
) -> None:
    [alert_id] = await write_alerts(aclient, keys, 1, hours_ago=3)
    real_upsert = store.upsert

    async def upsert_then_acknowledge(rows: object) -> None:
        await real_upsert(rows)  # type: ignore[arg-type]
        await aclient.hset(
            keys.alert(alert_id), mapping={"acknowledged": "1", "acknowledged_by": "op"}
        )

    store.upsert = upsert_then_acknowledge  # type: ignore[method-assign]
    mover = mover_of(aclient, keys, store, embedder)
    assert await mover.move_expired() == 0
    assert await held(aclient, keys, alert_id)
    store.upsert = real_upsert  # type: ignore[method-assign]
    assert await mover.move_expired() == 1
    archived = await store.alert(alert_id)
    assert archived is not None
    assert archived.record.acknowledged
    assert archived.record.acknowledged_by == "op"


async def test_alerts_written_before_the_indexes_are_adopted(
    aclient: aioredis.Redis, keys: Keys, store: AlertStore, embedder: Embedder
) -> None:
    ids = await write_alerts(aclient, keys, 3, hours_ago=3)
    indexes = [keys.alert_index, keys.camera_alert_index("cam1"), keys.closed_alerts]
    await aclient.delete(*indexes, keys.alerts_to_archive)
    assert await index_earlier_alerts(aclient, keys) == 3
    assert await index_earlier_alerts(aclient, keys) == 3  # again: nothing changes
    assert [await aclient.zcard(index) for index in indexes] == [3, 3, 3]
    assert await mover_of(aclient, keys, store, embedder).move_expired() == 3
    assert not any([await held(aclient, keys, alert_id) for alert_id in ids])


async def test_redis_memory_stays_flat_over_a_long_run_once_retention_applies(
    aclient: aioredis.Redis, keys: Keys, tmp_path: Path
) -> None:
    config = RetentionConfig(rounds=5, per_round=12, frames=8, width=320, height=208)
    figures = await redis_bytes_per_alert_after_retention(aclient, keys, tmp_path, config)
    assert figures["archived_alerts"] == 60
    assert isinstance(figures["redis_bytes_per_alert_hot"], int)
    assert figures["redis_bytes_per_alert_hot"] > 20_000  # the evidence, while hot
    after = figures["redis_bytes_per_alert_after_retention"]
    assert isinstance(after, float)
    # used_memory of a shared server moves by a few kB on its own (allocator, other
    # clients): what stays must be noise next to what one hot alert holds
    assert abs(after) < 0.02 * figures["redis_bytes_per_alert_hot"], figures
