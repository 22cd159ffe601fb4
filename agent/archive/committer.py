"""The archiver's commits: the ``archive`` stream's window records into the archive.

Batches of up to ``batch_rows`` records, or what arrived in ``batch_s``: each record's
thumbnail is cut from its frame while the frame is still buffered (a still window shows
the thumbnail of the window it is unchanged since instead), captions are embedded (each
distinct caption once) meanwhile, and the rows are upserted by window id; the entries are
acked only after the commit. A batch that fails stays pending and is read again (the same
rows, so a retry never duplicates); the entries of a committer that died are claimed once
idle. Records that do not parse are counted and acked.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence

import cv2
import numpy as np
import redis.asyncio as aioredis

from agent.archive.blobs import SHARED_THUMBNAIL_MS, thumbnail_path
from agent.archive.embedder import Embedder
from agent.archive.settings import ArchiveSettings
from agent.archive.store import ArchiveStore, WindowRow
from agent.pipeline.archive_records import WindowRecord
from agent.pipeline.metrics import Counters
from streams.buffer.frames import FrameRecord
from streams.bus.consumer_group import Entry, GroupReader
from streams.bus.keys import ARCHIVE_GROUP, Keys
from streams.picture.overlay import STRIP_HEIGHT

log = logging.getLogger(__name__)

CLAIM_IDLE_MS = 60_000
THUMBNAIL_QUALITY = 70
RECENT_CAPTIONS = 4096  # vectors kept: 1.5 kB each
REDUCED_DECODES = (
    (8, cv2.IMREAD_REDUCED_COLOR_8),
    (4, cv2.IMREAD_REDUCED_COLOR_4),
    (2, cv2.IMREAD_REDUCED_COLOR_2),
)


class Committer:
    def __init__(
        self,
        client: aioredis.Redis,
        keys: Keys,
        settings: ArchiveSettings,
        parts: ArchiveParts,
        consumer: str,
        claim_idle_ms: int = CLAIM_IDLE_MS,
    ) -> None:
        self._client = client
        self._keys = keys
        self._settings = settings
        self._parts = parts
        self._counters = Counters(client, keys)
        self._reader = GroupReader(
            client, keys.archive, ARCHIVE_GROUP, consumer, settings.batch_rows, claim_idle_ms
        )

    async def ensure_group(self) -> None:
        await self._reader.ensure_group()

    async def collect(self, stop: asyncio.Event) -> list[Entry]:
        """A batch: claimed, pending or new entries, topped up with new ones for up to
        ``batch_s`` after the first arrived, or until ``batch_rows``."""
        entries = await self._reader.next_batch(block_ms=1000)
        deadline = time.monotonic() + self._settings.batch_s
        while entries and len(entries) < self._settings.batch_rows and not stop.is_set():
            remaining_ms = int((deadline - time.monotonic()) * 1000)
            if remaining_ms <= 0:
                break
            entries += await self._reader.read_new(min(remaining_ms, 1000))
        return entries

    async def commit(self, entries: Sequence[Entry]) -> None:
        records = await self._records(entries)
        if records:
            rows = await self.rows(records)
            await self._parts.store.upsert_windows(rows)
            await self._counters.add("archive_windows_committed", amount=len(rows))
        await self._reader.ack([entry_id for entry_id, _ in entries])

    async def _records(self, entries: Sequence[Entry]) -> list[WindowRecord]:
        """The batch's records, one per window id (the last added wins)."""
        by_window: dict[str, WindowRecord] = {}
        for entry_id, fields in entries:
            try:
                record = WindowRecord.from_fields(fields)
            except (KeyError, ValueError, UnicodeDecodeError) as error:
                log.error("archive entry %s is not a window record: %s", entry_id, error)
                await self._counters.add("archive_records_invalid")
                continue
            by_window[record.window_id] = record
        return list(by_window.values())

    async def rows(self, records: list[WindowRecord]) -> list[WindowRow]:
        """The records as rows: thumbnails stored while the captions are embedded."""
        thumbnails, vectors = await asyncio.gather(
            self._thumbnails(records), asyncio.to_thread(self._parts.embed_captions, records)
        )
        return [
            WindowRow(record, thumbnails.get(record.window_id), vector)
            for record, vector in zip(records, vectors, strict=True)
        ]

    async def _thumbnails(self, records: list[WindowRecord]) -> dict[str, str]:
        """Window id -> thumbnail URI, for the records that name a frame. A still window
        shows the thumbnail of the window it is unchanged since where that one has one
        (cut in this batch or archived before); any other cuts its own from its frame if
        it is still buffered."""
        wanted = [record for record in records if record.thumbnail_ms is not None]
        analysed = [record for record in wanted if record.unchanged_since is None]
        stills = [record for record in wanted if record.unchanged_since is not None]
        in_batch = {record.window_id for record in analysed}
        earlier = {still.unchanged_since or "" for still in stills} - in_batch
        own, sources = await asyncio.gather(
            self._cut(analysed), self._parts.store.analysed_thumbnails(sorted(earlier))
        )
        sources |= {
            record.window_id: (record.start_ms, own[record.window_id])
            for record in analysed
            if record.window_id in own
        }
        shared = shared_thumbnails(stills, sources)
        alone = await self._cut([still for still in stills if still.window_id not in shared])
        return own | shared | alone

    async def _cut(self, records: list[WindowRecord]) -> dict[str, str]:
        """Window id -> the URI of the thumbnail cut from the record's buffered frame."""
        if not records:
            return {}
        pipe = self._client.pipeline(transaction=False)
        for record in records:
            ms = str(record.thumbnail_ms)
            pipe.xrange(self._keys.frames(record.camera_id), ms, ms, count=1)
        replies = await pipe.execute()
        frames = {
            record.window_id: FrameRecord.from_entry(record.camera_id, reply[0][1])
            for record, reply in zip(records, replies, strict=True)
            if reply
        }
        if missing := len(records) - len(frames):
            await self._counters.add("archive_thumbnails_missing", amount=missing)
        return await asyncio.to_thread(self._parts.store_thumbnails, records, frames)


def shared_thumbnails(
    stills: Sequence[WindowRecord], sources: Mapping[str, tuple[int, str]]
) -> dict[str, str]:
    """Still window id -> the thumbnail of the window it is unchanged since, given
    ``sources`` (window id -> its start and thumbnail), where that window started at most
    SHARED_THUMBNAIL_MS before the still one."""
    shared = {}
    for still in stills:
        source = sources.get(still.unchanged_since or "")
        if source is not None and still.start_ms - source[0] <= SHARED_THUMBNAIL_MS:
            shared[still.window_id] = source[1]
    return shared


class ArchiveParts:
    """What a commit writes with: the store (with its blob store) and the embedding
    model. Its CPU and blob work runs in threads."""

    def __init__(self, store: ArchiveStore, embedder: Embedder, thumbnail_width: int) -> None:
        self.store = store
        self.embedder = embedder
        self._thumbnail_width = thumbnail_width
        self._recent = RecentVectors(RECENT_CAPTIONS)

    def embed_captions(self, records: Sequence[WindowRecord]) -> list[np.ndarray]:
        """Each record's caption vector; a still window (no caption) gets zeros. Each
        distinct caption is embedded once, and not again while it is a recent one."""
        captions = sorted({record.caption for record in records if record.caption})
        vectors = self._recent.get(captions)
        new = [caption for caption in captions if caption not in vectors]
        if new:
            embedded = dict(zip(new, self.embedder.embed(new), strict=True))
            self._recent.add(embedded)
            vectors |= embedded
        zeros = np.zeros(self.embedder.dim, np.float32)
        return [vectors.get(record.caption, zeros) for record in records]

    def store_thumbnails(
        self, records: Sequence[WindowRecord], frames: dict[str, FrameRecord]
    ) -> dict[str, str]:
        uris = {}
        for record in records:
            frame = frames.get(record.window_id)
            jpeg = thumbnail_jpeg(frame, self._thumbnail_width) if frame else None
            if jpeg is not None:
                path = thumbnail_path(record.camera_id, record.start_ms)
                uris[record.window_id] = self.store.blobs.put(path, jpeg)
        return uris


class RecentVectors:
    """The vectors of the last ``size`` captions used: a quiet scene gets the same
    caption window after window. Thread-safe."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, captions: Sequence[str]) -> dict[str, np.ndarray]:
        """Those of ``captions`` that are recent, now the most recent."""
        with self._lock:
            found = {
                caption: self._vectors[caption] for caption in captions if caption in self._vectors
            }
            for caption in found:
                self._vectors.move_to_end(caption)
        return found

    def add(self, vectors: Mapping[str, np.ndarray]) -> None:
        with self._lock:
            self._vectors.update(vectors)
            while len(self._vectors) > self._size:
                self._vectors.popitem(last=False)


def thumbnail_jpeg(frame: FrameRecord, width: int) -> bytes | None:
    """The stamped frame scaled to ``width`` (the timestamp strip kept, so a thumbnail
    shows its time); None when the frame does not decode. A frame two, four or eight
    times as wide is decoded at that fraction of its size (the JPEG decoder's own scaling,
    which skips most of a full decode's work), so what is left is a step under 2x."""
    factor, flag = next(
        ((factor, flag) for factor, flag in REDUCED_DECODES if frame.width >= factor * width),
        (1, cv2.IMREAD_COLOR_BGR),
    )
    picture = cv2.imdecode(np.frombuffer(frame.jpeg, np.uint8), flag)
    if picture is None or picture.shape[0] * factor <= STRIP_HEIGHT:
        return None
    height = max(1, round(picture.shape[0] * width / picture.shape[1]))
    # Bilinear is close to area averaging for a step under 2x, at a sixth of its cost.
    step = cv2.INTER_AREA if picture.shape[1] >= 2 * width else cv2.INTER_LINEAR
    small = cv2.resize(picture, (width, height), interpolation=step)
    ok, encoded = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, THUMBNAIL_QUALITY])
    return encoded.tobytes() if ok else None
