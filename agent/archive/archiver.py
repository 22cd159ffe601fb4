"""The archiver role (``vigil archiver``; ``vigil up`` runs one): commits the window records,
moves closed alerts from Redis to the archive, and keeps the archive in shape.

One archiver at a time holds the archive's lease and does the work: LanceDB keeps one row
per window id only under a single writer, and compaction loses to concurrent writes.
Others wait on standby and take over within a lease period when the holder dies (its
unacked entries are claimed then). The holder also runs the upkeep: deleting windows
older than ``retention_days`` (with their thumbnails, and archived alerts with their
clips), moving closed alerts out of Redis (``AlertMover``), and compacting files and folding
new rows into the indexes every ``optimize_every_s``; a table never compacted slows down.

A record that does not parse goes to the group's dead letters at once. When a batch
fails, its entries are committed one at a time: an entry that fails while others commit
beside it is counted, and dead-lettered after ``MAX_FAILURES`` such failures; when all
fail, the store (or Redis) is blamed, not the entries, and the round backs off.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import redis.asyncio as aioredis

from agent.archive.alert_mover import AlertMover
from agent.archive.alert_rows import AlertRows
from agent.archive.alert_store import AlertStore
from agent.archive.committer import ArchiveParts, Committer
from agent.archive.embedder import Embedder
from agent.archive.settings import ArchiveSettings, EvalSettings
from agent.archive.store import ArchiveStore
from agent.pipeline.archive_records import WindowRecord
from agent.pipeline.progress import Progress, no_progress
from agent.pipeline.settings import AlertSettings
from streams.bus.backoff import Backoff, sleep_unless
from streams.bus.consumer_group import Entry
from streams.bus.dead_letters import TRANSIENT, DeadLetters, PoisonError, unreadable
from streams.bus.keys import ARCHIVE_GROUP, Keys
from streams.bus.lease import Lease

log = logging.getLogger(__name__)

LEASE_S = 30.0
STANDBY_S = 5.0
RETENTION_EVERY_S = 600.0
RETRY_INITIAL_S = 1.0
RETRY_CAP_S = 30.0
DAY_MS = 86_400_000


async def open_parts(settings: ArchiveSettings, data_dir: Path) -> ArchiveParts:
    """The embedding model and the store; the model loads in a thread (seconds)."""
    embedder = await asyncio.to_thread(Embedder.load, settings.embedding_model)
    store = await ArchiveStore.open(settings, data_dir, embedder.dim)
    return ArchiveParts(store, embedder, settings.thumbnail_width)


async def open_alert_mover(
    client: aioredis.Redis,
    keys: Keys,
    archive: ArchiveSettings,
    alerts: AlertSettings,
    parts: ArchiveParts,
    data_dir: Path,
    fps: float,
    context: EvalSettings,
) -> AlertMover:
    """The mover of closed alerts, writing the archive's alerts table beside ``parts``."""
    store = await AlertStore.open(archive, data_dir, parts.embedder.dim, parts.store.blobs)
    rows = AlertRows(client, keys, store, parts.embedder, fps, context)
    return AlertMover(client, keys, alerts, store, rows)


class Archiver:
    def __init__(
        self,
        client: aioredis.Redis,
        keys: Keys,
        settings: ArchiveSettings,
        parts: ArchiveParts,
        consumer: str,
        alerts: AlertMover | None = None,
    ) -> None:
        self._committer = Committer(client, keys, settings, parts, consumer)
        self._lease = Lease(client, keys.archive_leader, consumer, LEASE_S)
        self._upkeep = Upkeep(parts.store, settings, alerts)
        self.dead_letters = DeadLetters(client, keys, ARCHIVE_GROUP)

    async def run(self, stop: asyncio.Event, progress: Progress = no_progress) -> None:
        backoff = Backoff(RETRY_INITIAL_S, RETRY_CAP_S)
        try:
            await self._committer.ensure_group()
            while not stop.is_set():
                progress("archive")
                try:
                    if not await self._lease.hold():
                        await sleep_unless(stop, STANDBY_S)
                        continue
                    await self._round(stop)
                except Exception as error:  # Redis or the store is unreachable: retry
                    delay = backoff.next_delay_s()
                    log.warning("archiver: %s; retrying in %.1f s", error, delay)
                    await sleep_unless(stop, delay)
                else:
                    backoff.reset()
        finally:
            await self._release()

    async def _round(self, stop: asyncio.Event) -> None:
        entries = await self._committer.collect(stop)
        if entries:
            await self._commit(entries)
        await self._upkeep.run_due()

    async def _commit(self, entries: list[Entry]) -> None:
        readable = [entry for entry in entries if not await self._poison(entry)]
        try:
            await self._committer.commit(readable)
        except TRANSIENT:
            raise
        except Exception as error:
            if len(readable) < 2:
                raise
            log.warning("archiver: a batch failed (%s); committing it entry by entry", error)
            await self._commit_singly(readable)
            return
        await self.dead_letters.forget([entry_id for entry_id, _ in readable])

    async def _poison(self, entry: Entry) -> bool:
        """Dead-letters the entry when it is not a window record."""
        try:
            with unreadable("the window record"):
                WindowRecord.from_fields(entry[1])
        except PoisonError as error:
            return await self.dead_letters.failed(entry, error)
        return False

    async def _commit_singly(self, entries: list[Entry]) -> None:
        failed: list[tuple[Entry, Exception]] = []
        for entry in entries:
            try:
                await self._committer.commit([entry])
            except TRANSIENT:
                raise
            except Exception as error:
                failed.append((entry, error))
            else:
                await self.dead_letters.forget([entry[0]])
        if len(failed) == len(entries):
            raise failed[0][1]
        for entry, failure in failed:
            await self.dead_letters.failed(entry, failure)

    async def _release(self) -> None:
        try:
            await self._lease.release()
        except Exception as error:  # the lease expires by itself
            log.warning("archiver: could not release the lease: %s", error)


class Upkeep:
    """Moving closed alerts out of Redis, retention and compaction, each when due (all at
    the first round)."""

    def __init__(
        self, store: ArchiveStore, settings: ArchiveSettings, alerts: AlertMover | None = None
    ) -> None:
        self._store = store
        self._settings = settings
        self._alerts = alerts
        self._retention_due = 0.0  # monotonic seconds
        self._optimize_due = 0.0

    async def run_due(self) -> None:
        now = time.monotonic()
        if self._alerts is not None:
            await self._alerts.run_due()
        if now >= self._retention_due:
            await self._retention()
            self._retention_due = now + RETENTION_EVERY_S
        if now >= self._optimize_due:
            await self._store.optimize()
            await self._store.ensure_indexes()
            if self._alerts is not None:
                await self._alerts.store.optimize()
                await self._alerts.store.ensure_indexes()
            self._optimize_due = now + self._settings.optimize_every_s

    async def _retention(self) -> None:
        """Windows, and archived alerts with their clips, past ``retention_days``."""
        cutoff_ms = round(time.time() * 1000 - self._settings.retention_days * DAY_MS)
        deleted = await self._store.delete_windows_before(cutoff_ms)
        if deleted:
            log.info("archive: deleted %d windows past retention", deleted)
        if self._alerts is not None:
            alerts = await self._alerts.store.delete_closed_before(cutoff_ms)
            if alerts:
                log.info("archive: deleted %d alerts past retention", alerts)
