"""Context clips kept for feedback, against real Redis, real LanceDB and the real
embedding model: an alert is archived once the frames after its close are buffered, with
the buffered footage from before its onset to after its end as an MP4; an alert whose
frames are gone is archived without one (tried once); feedback given again during a move
keeps the alert in Redis; and retention deletes the clip with its alert."""

from __future__ import annotations

import io
import time
from pathlib import Path

import av
import pytest
import redis.asyncio as aioredis

from agent.archive.alert_mover import AlertMover
from agent.archive.alert_rows import AlertRows
from agent.archive.alert_store import AlertStore
from agent.archive.blobs import BlobStore
from agent.archive.embedder import Embedder
from agent.archive.settings import ArchiveSettings, EvalSettings
from agent.pipeline.alert_feedback import FeedbackIn, Verdict, feedback_of
from agent.pipeline.feedback import give_feedback_in_redis
from streams.buffer.frames import FrameRecord, append_frame
from streams.bus.keys import Keys
from streams.picture.overlay import STRIP_HEIGHT
from tests.archive.test_alert_mover import FRAMES, SETTINGS, held, write_alerts

CONTEXT = EvalSettings(context_before_s=6.0, context_after_s=4.0)
FPS = 4


@pytest.fixture
async def store(tmp_path: Path, embedder: Embedder) -> AlertStore:
    archive = ArchiveSettings()
    return await AlertStore.open(archive, tmp_path, embedder.dim, BlobStore.open(archive, tmp_path))


def mover_of(
    client: aioredis.Redis,
    keys: Keys,
    store: AlertStore,
    embedder: Embedder,
    context: EvalSettings = CONTEXT,
) -> AlertMover:
    rows = AlertRows(client, keys, store, embedder, 4.0, context)
    return AlertMover(client, keys, SETTINGS, store, rows)


async def buffer_frames(client: aioredis.Redis, keys: Keys, start_s: float, end_s: float) -> int:
    """Frames of cam1 every 1/FPS s in [start_s, end_s); how many."""
    pipe = client.pipeline()
    count = round((end_s - start_s) * FPS)
    for index in range(count):
        at = start_s + index / FPS
        jpeg = FRAMES[index % len(FRAMES)]
        append_frame(pipe, keys, FrameRecord("cam1", at, index, 0.1, 320, 208, jpeg), 3600)
    await pipe.execute()
    return count


def frame_times(video: bytes) -> list[float]:
    with av.open(io.BytesIO(video)) as container:
        return [float(frame.time) for frame in container.decode(video=0)]


def decoded_frames(video: bytes) -> int:
    with av.open(io.BytesIO(video)) as container:
        return sum(1 for _ in container.decode(video=0))


async def test_a_closed_alert_is_archived_with_its_context_once_the_after_part_is_buffered(
    aclient: aioredis.Redis, keys: Keys, store: AlertStore, embedder: Embedder
) -> None:
    [alert_id] = await write_alerts(aclient, keys, 1, hours_ago=0.02)  # 72 s ago
    onset = float(await aclient.hget(keys.alert(alert_id), "onset_at") or 0)
    await buffer_frames(aclient, keys, onset - 30, time.time())
    waiting = mover_of(aclient, keys, store, embedder, CONTEXT.model_copy(
        update={"context_after_s": 300.0}
    ))  # fmt: skip
    assert await waiting.archive_settled() == 0  # its after-part is not buffered yet
    assert await mover_of(aclient, keys, store, embedder).archive_settled() == 1
    archived = await store.alert(alert_id)
    assert archived is not None
    record = archived.record
    assert record.context_clip is not None
    assert record.context_clip_start is not None
    assert record.context_clip_end is not None
    last_seen = record.last_seen
    assert last_seen is not None
    assert record.context_clip_start == pytest.approx(onset - 6.0, abs=0.3)
    assert record.context_clip_end == pytest.approx(last_seen + 4.0, abs=0.3)
    video = store.blobs.get(record.context_clip)
    assert video is not None
    expected = round((last_seen + 4.0 - (onset - 6.0)) * FPS)
    assert abs(decoded_frames(video) - 2 * expected) <= 2  # each shown twice, on the grid
    assert frame_times(video)[:4] == [0.0, 0.125, 0.25, 0.375]
    with av.open(io.BytesIO(video)) as container:  # the picture, without its stamped strip
        assert container.streams.video[0].height == 208 - STRIP_HEIGHT
    fields = await aclient.hmget(keys.alert(alert_id), ["context_tried", "context_clip"])
    assert fields == [b"1", record.context_clip.encode()]


async def test_an_alert_whose_frames_are_gone_is_archived_without_context_and_tried_once(
    aclient: aioredis.Redis, keys: Keys, store: AlertStore, embedder: Embedder
) -> None:
    [alert_id] = await write_alerts(aclient, keys, 1, hours_ago=0.5)
    mover = mover_of(aclient, keys, store, embedder)
    assert await mover.archive_settled() == 1
    archived = await store.alert(alert_id)
    assert archived is not None
    assert archived.record.context_clip is None
    assert await aclient.hget(keys.alert(alert_id), "context_tried") == b"1"


async def test_feedback_given_again_during_a_move_keeps_the_alert_until_archived_with_it(
    aclient: aioredis.Redis, keys: Keys, store: AlertStore, embedder: Embedder
) -> None:
    [alert_id] = await write_alerts(aclient, keys, 1, hours_ago=3)
    confirmed = feedback_of(FeedbackIn(verdict=Verdict.CONFIRMED), "op")
    assert await give_feedback_in_redis(aclient, keys, alert_id, confirmed) is not None
    mover = mover_of(aclient, keys, store, embedder)
    real_upsert = store.upsert
    dismissed = feedback_of(FeedbackIn(verdict=Verdict.FALSE_ALARM, note="a shadow"), "op")

    async def upsert_then_change_feedback(rows: object) -> None:
        await real_upsert(rows)  # type: ignore[arg-type]
        await give_feedback_in_redis(aclient, keys, alert_id, dismissed)

    store.upsert = upsert_then_change_feedback  # type: ignore[method-assign]
    assert await mover.move_expired() == 0  # same field count, but the feedback changed
    assert await held(aclient, keys, alert_id)
    store.upsert = real_upsert  # type: ignore[method-assign]
    assert await mover.move_expired() == 1
    archived = await store.alert(alert_id)
    assert archived is not None
    assert archived.record.feedback is not None
    assert archived.record.feedback.verdict is Verdict.FALSE_ALARM
    counts = await aclient.hgetall(keys.feedback_counts)
    rule = archived.record.rule
    assert counts == {
        f"{rule}|cam1|confirmed".encode(): b"0",
        f"{rule}|cam1|false_alarm".encode(): b"1",
    }


async def test_retention_deletes_the_context_clip_with_its_alert(
    aclient: aioredis.Redis, keys: Keys, store: AlertStore, embedder: Embedder
) -> None:
    [alert_id] = await write_alerts(aclient, keys, 1, hours_ago=0.02)
    onset = float(await aclient.hget(keys.alert(alert_id), "onset_at") or 0)
    await buffer_frames(aclient, keys, onset - 10, time.time())
    assert await mover_of(aclient, keys, store, embedder).archive_settled() == 1
    archived = await store.alert(alert_id)
    assert archived is not None
    assert archived.record.context_clip is not None
    assert store.blobs.get(archived.record.context_clip) is not None
    assert await store.delete_closed_before(round(time.time() * 1000) + 1000) == 1
    assert store.blobs.get(archived.record.context_clip) is None
