"""The archiver against real Redis, real LanceDB and the real embedding model: records on
the stream become rows once, with thumbnails; a commit that died is redone without
duplicates; one archiver at a time; retention deletes old windows and their files."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import redis.asyncio as aioredis

from agent.archive.archiver import Archiver, Upkeep
from agent.archive.committer import ArchiveParts, Committer
from agent.archive.embedder import Embedder
from agent.archive.settings import ArchiveSettings
from agent.archive.store import ArchiveStore
from agent.pipeline.archive_records import WindowRecord, add_window
from agent.pipeline.metrics import Counters
from streams.buffer.frames import FrameRecord, append_frame
from streams.bus.keys import ARCHIVE_GROUP, Keys
from streams.bus.lease import Lease
from streams.picture.overlay import add_strip, wall_time_text
from tests.archive.conftest import WINDOW_MS, still_record, window_record

SETTINGS = ArchiveSettings(batch_s=0.2)
WIDTH, HEIGHT = 640, 360


@pytest.fixture
async def parts(tmp_path: Path, embedder: Embedder) -> ArchiveParts:
    store = await ArchiveStore.open(SETTINGS, tmp_path, embedder.dim)
    return ArchiveParts(store, embedder, SETTINGS.thumbnail_width)


async def buffer_frame(client: aioredis.Redis, keys: Keys, camera: str, ts_ms: int) -> None:
    picture = np.full((HEIGHT, WIDTH, 3), 120, np.uint8)
    stamped = add_strip(picture, wall_time_text(ts_ms / 1000), 0)
    jpeg = cv2.imencode(".jpg", stamped)[1].tobytes()
    record = FrameRecord(camera, ts_ms / 1000, 0, 0.0, WIDTH, stamped.shape[0], jpeg)
    pipe = client.pipeline(transaction=False)
    append_frame(pipe, keys, record, 600)
    await pipe.execute()


async def analysed_windows(
    client: aioredis.Redis, keys: Keys, camera: str, count: int
) -> list[WindowRecord]:
    """``count`` analysed windows ending a minute ago, each with its frame buffered."""
    first_ms = (int(time.time() * 1000) - 60_000 - count * WINDOW_MS) // 1000 * 1000
    records = []
    for index in range(count):
        start_ms = first_ms + index * WINDOW_MS
        caption = f"A forklift number {index} crosses the loading dock."
        record = window_record(camera, start_ms, caption, detected=["vehicle"])
        record = replace(record, thumbnail_ms=start_ms + 4000)
        await buffer_frame(client, keys, camera, start_ms + 4000)
        records.append(record)
    return records


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@asynccontextmanager
async def running(archiver: Archiver) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(archiver.run(stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def test_stream_records_become_rows_once_with_thumbnails(
    aclient: aioredis.Redis, keys: Keys, parts: ArchiveParts
) -> None:
    records = await analysed_windows(aclient, keys, "dock", 4)
    for record in [*records, records[1]]:  # a job re-run adds its window again
        await add_window(aclient, keys, record)
    still = still_record("dock", records[-1].end_ms, records[-1].window_id)
    await add_window(aclient, keys, still)
    await aclient.xadd(keys.archive, {"window": "garbage"})
    store = parts.store
    async with running(Archiver(aclient, keys, SETTINGS, parts, "a")):

        async def committed() -> bool:
            return await store.count_windows() == 5

        await eventually(committed, 30, "five windows committed")
        await eventually(lambda: _pending_is(aclient, keys, 0), 10, "every entry acked")
    for record in records:
        stored = await store.window(record.window_id)
        assert stored is not None
        assert (stored.caption, stored.detected_rules) == (record.caption, ("vehicle",))
        assert stored.thumbnail_uri is not None
        jpeg = store.blobs.get(stored.thumbnail_uri)
        assert jpeg is not None
        picture = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR_BGR)
        assert picture.shape[1] == SETTINGS.thumbnail_width
    kept_still = await store.window(still.window_id)
    assert kept_still is not None
    assert (kept_still.caption, kept_still.unchanged_since) == ("", records[-1].window_id)
    assert kept_still.thumbnail_uri is None  # no frame was named
    [(_, dead)] = await aclient.xrange(keys.dead_archive)  # not a record: dead at once
    assert dead[b"window"] == b"garbage"
    assert dead[b"error"].startswith(b"PoisonError: the window record does not parse")
    counters = await Counters(aclient, keys).all()
    assert counters["dead_letters:archive"] == 1


async def test_redis_failing_for_a_moment_dead_letters_nothing(
    aclient: aioredis.Redis, keys: Keys, parts: ArchiveParts, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = await analysed_windows(aclient, keys, "pier", 2)
    for record in records:
        await add_window(aclient, keys, record)
    commit, failed = Committer.commit, []

    async def flaky(self: Committer, entries: Any) -> None:
        if not failed:
            failed.append(1)
            raise aioredis.ConnectionError("Connection reset by peer")
        await commit(self, entries)

    monkeypatch.setattr(Committer, "commit", flaky)
    async with running(Archiver(aclient, keys, SETTINGS, parts, "a")):

        async def committed() -> bool:
            return await parts.store.count_windows() == 2

        await eventually(committed, 30, "both windows committed after the retry")
        await eventually(lambda: _pending_is(aclient, keys, 0), 10, "every entry acked")
    assert failed
    assert await aclient.xlen(keys.dead_archive) == 0


async def test_a_batch_committed_but_not_acked_is_redone_by_another_without_duplicates(
    aclient: aioredis.Redis, keys: Keys, parts: ArchiveParts
) -> None:
    records = await analysed_windows(aclient, keys, "gate", 6)
    for record in records:
        await add_window(aclient, keys, record)
    died = Committer(aclient, keys, SETTINGS, parts, "died")
    await died.ensure_group()
    stop = asyncio.Event()
    entries = await died.collect(stop)
    assert len(entries) == 6
    # It committed half the rows, then died before it acked anything.
    rows = await died.rows([WindowRecord.from_fields(fields) for _, fields in entries])
    await parts.store.upsert_windows(rows[:3])
    assert await parts.store.count_windows() == 3
    heir = Committer(aclient, keys, SETTINGS, parts, "heir", claim_idle_ms=0)
    claimed = await heir.collect(stop)
    assert sorted(claimed) == sorted(entries)
    await heir.commit(claimed)
    assert await parts.store.count_windows() == 6
    assert await _pending_is(aclient, keys, 0)


async def test_one_archiver_commits_at_a_time_and_a_standby_takes_over(
    aclient: aioredis.Redis, keys: Keys, parts: ArchiveParts
) -> None:
    other = Lease(aclient, keys.archive_leader, "other", 30)
    assert await other.hold()
    records = await analysed_windows(aclient, keys, "yard", 3)
    for record in records:
        await add_window(aclient, keys, record)
    async with running(Archiver(aclient, keys, SETTINGS, parts, "standby")):
        await asyncio.sleep(1.5)
        assert await parts.store.count_windows() == 0  # the holder alone writes
        await other.release()

        async def committed() -> bool:
            return await parts.store.count_windows() == 3

        await eventually(committed, 20, "the standby to take over")


async def test_retention_deletes_windows_past_it_with_their_thumbnails(
    aclient: aioredis.Redis, keys: Keys, parts: ArchiveParts
) -> None:
    recent = await analysed_windows(aclient, keys, "dock", 2)
    old_start_ms = int(time.time() * 1000) - 3 * 86_400_000
    old = [
        replace(
            window_record("dock", old_start_ms + i * WINDOW_MS, "old"),
            thumbnail_ms=recent[i].thumbnail_ms,
        )
        for i in range(2)
    ]
    committer = Committer(aclient, keys, SETTINGS, parts, "a")
    await committer.ensure_group()
    for record in [*old, *recent]:
        await add_window(aclient, keys, record)
    await committer.commit(await committer.collect(asyncio.Event()))
    stored_old = [await parts.store.window(record.window_id) for record in old]
    old_thumbnails = [stored.thumbnail_uri for stored in stored_old if stored]
    assert len(old_thumbnails) == 2
    assert all(old_thumbnails)
    await Upkeep(parts.store, SETTINGS.model_copy(update={"retention_days": 2.0})).run_due()
    assert await parts.store.count_windows() == 2
    assert [await parts.store.window(r.window_id) for r in old] == [None, None]
    assert [parts.store.blobs.get(uri) for uri in old_thumbnails if uri] == [None, None]
    assert all([await parts.store.window(r.window_id) for r in recent])


async def _pending_is(client: aioredis.Redis, keys: Keys, count: int) -> bool:
    pending = await client.xpending(keys.archive, ARCHIVE_GROUP)
    return int(pending["pending"]) == count
