"""The archiver's commits: the ``archive`` stream's window records into the archive.

Batches of up to ``batch_rows`` records, or what arrived in ``batch_s``: each record's
thumbnail is cut from its frame while the frame is still buffered, captions are embedded
(each distinct caption once), and the rows are upserted by window id; the entries are
acked only after the commit. A batch that fails stays pending and is read again (the same
rows, so a retry never duplicates); the entries of a committer that died are claimed once
idle. Records that do not parse are counted and acked.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

import cv2
import numpy as np
import redis.asyncio as aioredis

from agent.archive.blobs import thumbnail_path
from agent.archive.embedder import Embedder
from agent.archive.settings import ArchiveSettings
from agent.archive.store import ArchiveStore, WindowRow
from agent.pipeline.archive_records import WindowRecord
from agent.pipeline.metrics import Counters
from streams.consumer_group import Entry, GroupReader
from streams.framebuffer import FrameRecord
from streams.keys import ARCHIVE_GROUP, Keys
from streams.overlay import STRIP_HEIGHT

log = logging.getLogger(__name__)

CLAIM_IDLE_MS = 60_000
THUMBNAIL_QUALITY = 70


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
        """The records as rows: thumbnails stored, captions embedded."""
        thumbnails = await self._thumbnails(records)
        vectors = await asyncio.to_thread(self._parts.embed_captions, records)
        return [
            WindowRow(record, thumbnails.get(record.window_id), vector)
            for record, vector in zip(records, vectors, strict=True)
        ]

    async def _thumbnails(self, records: list[WindowRecord]) -> dict[str, str]:
        """Window id -> thumbnail URI, for the records whose frame is still buffered."""
        wanted = [record for record in records if record.thumbnail_ms is not None]
        pipe = self._client.pipeline(transaction=False)
        for record in wanted:
            ms = str(record.thumbnail_ms)
            pipe.xrange(self._keys.frames(record.camera_id), ms, ms, count=1)
        replies = await pipe.execute() if wanted else []
        frames = {
            record.window_id: FrameRecord.from_entry(record.camera_id, reply[0][1])
            for record, reply in zip(wanted, replies, strict=True)
            if reply
        }
        if missing := len(wanted) - len(frames):
            await self._counters.add("archive_thumbnails_missing", amount=missing)
        return await asyncio.to_thread(self._parts.store_thumbnails, records, frames)


class ArchiveParts:
    """What a commit writes with: the store (with its blob store) and the embedding
    model. Its CPU and blob work runs in a thread."""

    def __init__(self, store: ArchiveStore, embedder: Embedder, thumbnail_width: int) -> None:
        self.store = store
        self.embedder = embedder
        self._thumbnail_width = thumbnail_width

    def embed_captions(self, records: Sequence[WindowRecord]) -> list[np.ndarray]:
        """Each record's caption vector; a still window (no caption) gets zeros."""
        captions = sorted({record.caption for record in records if record.caption})
        vectors = dict(zip(captions, self.embedder.embed(captions), strict=True))
        zeros = np.zeros(self.embedder.dim, np.float32)
        return [vectors.get(record.caption, zeros) for record in records]

    def store_thumbnails(
        self, records: Sequence[WindowRecord], frames: dict[str, FrameRecord]
    ) -> dict[str, str]:
        uris = {}
        for record in records:
            frame = frames.get(record.window_id)
            jpeg = thumbnail_jpeg(frame.jpeg, self._thumbnail_width) if frame else None
            if jpeg is not None:
                path = thumbnail_path(record.camera_id, record.start_ms)
                uris[record.window_id] = self.store.blobs.put(path, jpeg)
        return uris


def thumbnail_jpeg(jpeg: bytes, width: int) -> bytes | None:
    """The stamped frame scaled to ``width`` (the timestamp strip kept, so a thumbnail
    shows its time); None when the frame does not decode."""
    picture = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR_BGR)
    if picture is None or picture.shape[0] <= STRIP_HEIGHT:
        return None
    height = max(1, round(picture.shape[0] * width / picture.shape[1]))
    small = cv2.resize(picture, (width, height), interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, THUMBNAIL_QUALITY])
    return encoded.tobytes() if ok else None
