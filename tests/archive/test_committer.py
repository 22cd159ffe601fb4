"""The committer's rows against real Redis, real LanceDB and the real embedding model:
thumbnails cut from buffered frames at reduced size with their time strip kept, still
windows showing the thumbnail of the window they are unchanged since (and retention
keeping it while one of them is left), windows whose answer did not parse archived marked
so, and captions embedded once while recent."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
import redis.asyncio as aioredis

from agent.archive.blobs import SHARED_THUMBNAIL_MS, thumbnail_path
from agent.archive.committer import (
    ArchiveParts,
    Committer,
    RecentVectors,
    shared_thumbnails,
    thumbnail_jpeg,
)
from agent.archive.embedder import Embedder
from agent.archive.settings import ArchiveSettings
from agent.archive.store import ArchiveStore, WindowFilter
from agent.pipeline.archive_records import (
    VerdictStatus,
    WindowRecord,
    add_window,
    unparsed_verdicts,
)
from agent.pipeline.metrics import Counters
from streams.buffer.frames import FrameRecord, append_frame
from streams.bus.keys import Keys
from streams.picture.overlay import STRIP_HEIGHT, add_strip, wall_time_text
from tests.archive.conftest import T0_MS, WINDOW_MS, still_record, window_record

SETTINGS = ArchiveSettings(batch_s=0.2)
WIDTH = SETTINGS.thumbnail_width


def stamped_frame(width: int, height: int, ts_ms: int, camera: str = "dock") -> FrameRecord:
    """A textured picture with the time strip burned in, JPEG-encoded as ingest does."""
    y, x = np.mgrid[0:height, 0:width] / np.array([height, width])[:, None, None]
    waves = (np.sin(12 * x) * np.cos(9 * y) + 1) * 127
    picture = np.stack([y * 255, x * 255, waves], axis=-1).astype(np.uint8)
    stamped = add_strip(picture, wall_time_text(ts_ms / 1000), 0)
    jpeg = cv2.imencode(".jpg", stamped, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes()
    return FrameRecord(camera, ts_ms / 1000, 0, 0.0, width, stamped.shape[0], jpeg)


def decoded(jpeg: bytes | None) -> np.ndarray:
    assert jpeg is not None
    picture = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR_BGR)
    assert picture is not None
    return picture


def full_decode_thumbnail(frame: FrameRecord) -> np.ndarray:
    """The thumbnail as a full decode and area averaging make it: the reference."""
    picture = decoded(frame.jpeg)
    height = round(picture.shape[0] * WIDTH / picture.shape[1])
    return cv2.resize(picture, (WIDTH, height), interpolation=cv2.INTER_AREA)


def strip_rows(picture: np.ndarray, frame: FrameRecord) -> np.ndarray:
    """The rows of a thumbnail of ``frame`` that hold its time strip."""
    return picture[-round(STRIP_HEIGHT * picture.shape[0] / frame.height) :]


@pytest.mark.parametrize("width", [504, 640, 1280, 2560])
def test_a_thumbnail_is_close_to_a_full_decode_at_any_frame_size(width: int) -> None:
    """A 504-px frame decodes whole and scales bilinearly; 640, 1280 and 2560-px ones are
    scaled by 2, 4 and 8 in the decoder first. Each thumbnail is close to what a full
    decode and area averaging make."""
    frame = stamped_frame(width, width * 9 // 16, T0_MS)
    thumbnail = decoded(thumbnail_jpeg(frame, WIDTH))
    reference = full_decode_thumbnail(frame)
    assert thumbnail.shape == reference.shape
    assert np.abs(thumbnail.astype(np.int16) - reference).mean() < 3


@pytest.mark.parametrize("width", [504, 640])
def test_a_thumbnail_shows_the_time_of_its_frame(width: int) -> None:
    """Where the strip stays readable (at least half its height): the bilinear step and
    the decoder's halving keep its text as area averaging does, closer to the strip of
    the same time than another time's strip is."""
    frame = stamped_frame(width, width * 9 // 16, T0_MS)
    later = stamped_frame(width, width * 9 // 16, T0_MS + 3_723_450)
    strip = strip_rows(decoded(thumbnail_jpeg(frame, WIDTH)), frame).astype(np.int16)
    assert strip.max() > 200  # the white text
    assert np.median(strip) < 40  # on the black band
    same = np.abs(strip - strip_rows(full_decode_thumbnail(frame), frame)).mean()
    other = np.abs(strip - strip_rows(full_decode_thumbnail(later), later)).mean()
    assert same < other / 1.5


def test_a_frame_that_does_not_decode_or_is_only_a_strip_has_no_thumbnail() -> None:
    frame = stamped_frame(1280, 720, T0_MS)
    assert thumbnail_jpeg(replace(frame, jpeg=b"not a jpeg"), WIDTH) is None
    strip_only = cv2.imencode(".jpg", np.zeros((STRIP_HEIGHT, 1280, 3), np.uint8))[1].tobytes()
    assert thumbnail_jpeg(replace(frame, height=STRIP_HEIGHT, jpeg=strip_only), WIDTH) is None


def test_a_still_window_shares_only_a_thumbnail_started_within_the_bound() -> None:
    source = window_record("dock", T0_MS, "a van")
    near = still_record("dock", T0_MS + SHARED_THUMBNAIL_MS, source.window_id)
    far = still_record("dock", T0_MS + SHARED_THUMBNAIL_MS + 1, source.window_id)
    orphan = still_record("dock", T0_MS + WINDOW_MS, "dock:1")
    sources = {source.window_id: (source.start_ms, "thumbnails/dock/a.jpg")}
    shared = shared_thumbnails([near, far, orphan], sources)
    assert shared == {near.window_id: "thumbnails/dock/a.jpg"}


@pytest.fixture
async def parts(tmp_path: Path, embedder: Embedder) -> ArchiveParts:
    store = await ArchiveStore.open(SETTINGS, tmp_path, embedder.dim)
    return ArchiveParts(store, embedder, WIDTH)


async def buffer(client: aioredis.Redis, keys: Keys, records: Sequence[WindowRecord]) -> None:
    pipe = client.pipeline(transaction=False)
    for record in records:
        assert record.thumbnail_ms is not None
        append_frame(
            pipe, keys, stamped_frame(640, 360, record.thumbnail_ms, record.camera_id), 600
        )
    await pipe.execute()


async def commit(
    client: aioredis.Redis, keys: Keys, parts: ArchiveParts, records: Sequence[WindowRecord]
) -> None:
    committer = Committer(client, keys, SETTINGS, parts, "a")
    await committer.ensure_group()
    for record in records:
        await add_window(client, keys, record)
    entries = await committer.collect(asyncio.Event())
    assert len(entries) == len(records)
    await committer.commit(entries)


def framed(record: WindowRecord) -> WindowRecord:
    return replace(record, thumbnail_ms=record.start_ms + WINDOW_MS // 2)


async def thumbnails_of(store: ArchiveStore, records: Sequence[WindowRecord]) -> list[str | None]:
    stored = [await store.window(record.window_id) for record in records]
    return [window.thumbnail_uri if window else None for window in stored]


async def test_still_windows_show_the_thumbnail_of_the_window_they_are_unchanged_since(
    aclient: aioredis.Redis, keys: Keys, parts: ArchiveParts
) -> None:
    """In the same batch or a later one; a still window whose analysed window has no
    thumbnail cuts its own, and one that names no frame has none."""
    analysed = framed(window_record("dock", T0_MS, "A forklift crosses the dock."))
    first = framed(still_record("dock", T0_MS + WINDOW_MS, analysed.window_id))
    unframed = framed(window_record("gate", T0_MS, "A man waits at the gate."))
    alone = framed(still_record("gate", T0_MS + WINDOW_MS, unframed.window_id))
    no_frame = still_record("dock", T0_MS + 2 * WINDOW_MS, analysed.window_id)
    await buffer(aclient, keys, [analysed, first, alone])  # not unframed's frame
    await commit(aclient, keys, parts, [analysed, first, unframed, alone, no_frame])
    later = framed(still_record("dock", T0_MS + 3 * WINDOW_MS, analysed.window_id))
    await buffer(aclient, keys, [later])
    await commit(aclient, keys, parts, [later])

    own = thumbnail_path("dock", analysed.start_ms)
    store = parts.store
    assert await thumbnails_of(store, [analysed, first, later, no_frame]) == [own, own, own, None]
    assert await thumbnails_of(store, [unframed, alone]) == [
        None,
        thumbnail_path("gate", alone.start_ms),
    ]
    assert store.blobs.get(thumbnail_path("dock", first.start_ms)) is None  # none of its own
    counters = await Counters(aclient, keys).all()
    assert counters["archive_thumbnails_missing"] == 1  # unframed's frame


async def test_a_window_whose_answer_did_not_parse_is_archived_marked_so(
    aclient: aioredis.Redis, keys: Keys, parts: ArchiveParts
) -> None:
    """Between two analysed windows, one the model's answer to did not parse: all three are
    archived; it shows its thumbnail and says why, claims no caption and no detection,
    and no search by words or meaning finds it."""
    first = framed(window_record("dock", T0_MS, "A forklift crosses the dock."))
    unparsed = framed(
        replace(
            window_record("dock", T0_MS + WINDOW_MS, ""),
            verdicts=unparsed_verdicts(["person", "vehicle"], "not JSON", "I think a forklift"),
        )
    )
    last = framed(window_record("dock", T0_MS + 2 * WINDOW_MS, "The dock is empty."))
    await buffer(aclient, keys, [first, unparsed, last])
    await commit(aclient, keys, parts, [first, unparsed, last])

    store = parts.store
    assert await store.count_windows(WindowFilter(camera="dock")) == 3
    stored = await store.window(unparsed.window_id)
    assert stored is not None
    assert stored.caption == ""
    assert stored.detected_rules == ()
    assert stored.rules == ("person", "vehicle")
    assert {verdict.status for verdict in stored.verdicts} == {VerdictStatus.UNPARSED}
    assert "I think a forklift" in stored.verdicts[0].description
    assert stored.thumbnail_uri == thumbnail_path("dock", unparsed.start_ms)
    vector = parts.embedder.embed(["a forklift on the dock"])[0]
    found = await store.vector_search(vector, WindowFilter(camera="dock"), 10)
    assert unparsed.window_id not in {window.window_id for window in found}


async def test_retention_keeps_a_shared_thumbnail_while_a_window_showing_it_is_kept(
    aclient: aioredis.Redis, keys: Keys, parts: ArchiveParts
) -> None:
    analysed = framed(window_record("dock", T0_MS, "A forklift crosses the dock."))
    stills = [
        framed(still_record("dock", T0_MS + i * WINDOW_MS, analysed.window_id)) for i in (1, 2)
    ]
    other = framed(window_record("gate", T0_MS, "A man waits at the gate."))
    await buffer(aclient, keys, [analysed, *stills, other])
    await commit(aclient, keys, parts, [analysed, *stills, other])
    store = parts.store
    shared = thumbnail_path("dock", analysed.start_ms)
    own = thumbnail_path("gate", other.start_ms)
    assert store.blobs.get(shared) is not None
    assert store.blobs.get(own) is not None

    assert await store.delete_windows_before(stills[0].end_ms + 1) == 3
    assert await thumbnails_of(store, [analysed, stills[0], other]) == [None, None, None]
    assert await thumbnails_of(store, [stills[1]]) == [shared]
    assert store.blobs.get(shared) is not None  # the second still window shows it
    assert store.blobs.get(own) is None

    assert await store.delete_windows_before(stills[1].end_ms + 1) == 1
    assert store.blobs.get(shared) is None
    assert await store.count_windows() == 0


async def test_a_retried_batch_gives_the_same_rows(
    aclient: aioredis.Redis, keys: Keys, parts: ArchiveParts
) -> None:
    analysed = framed(window_record("dock", T0_MS, "A forklift crosses the dock."))
    still = framed(still_record("dock", T0_MS + WINDOW_MS, analysed.window_id))
    await buffer(aclient, keys, [analysed, still])
    committer = Committer(aclient, keys, SETTINGS, parts, "a")
    first = await committer.rows([analysed, still])
    again = await committer.rows([analysed, still])
    for one, other in zip(first, again, strict=True):
        assert (one.record, one.thumbnail_uri) == (other.record, other.thumbnail_uri)
        np.testing.assert_array_equal(one.vector, other.vector)
    assert first[1].thumbnail_uri == first[0].thumbnail_uri


async def test_a_recent_caption_is_not_embedded_again(
    parts: ArchiveParts, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    embedded: list[str] = []
    embed = embedder.embed

    def counted(texts: Sequence[str]) -> np.ndarray:
        embedded.extend(texts)
        return embed(texts)

    monkeypatch.setattr(embedder, "embed", counted)
    quiet = "The loading dock is empty; nothing moves."
    first = [window_record("dock", T0_MS, quiet), window_record("gate", T0_MS, quiet)]
    second = [
        window_record("dock", T0_MS + WINDOW_MS, quiet),
        window_record("gate", T0_MS + WINDOW_MS, "A van."),
    ]
    vectors = parts.embed_captions(first) + parts.embed_captions(second)
    assert embedded == [quiet, "A van."]
    np.testing.assert_array_equal(vectors[0], vectors[2])
    np.testing.assert_allclose(vectors[3], embed(["A van."])[0], atol=1e-6)


def test_recent_vectors_forget_the_least_recently_used() -> None:
    recent = RecentVectors(2)
    one, two, three = (np.full(2, value, np.float32) for value in (1, 2, 3))
    recent.add({"one": one, "two": two})
    assert set(recent.get(["one"])) == {"one"}  # now more recent than "two"
    recent.add({"three": three})
    assert set(recent.get(["one", "two", "three"])) == {"one", "three"}
