"""The archive as the API reads it: opened at the first request that needs it (the
embedding model takes seconds to load), then shared by every request; its archived
alerts apart, as reading one needs no model."""

from __future__ import annotations

import asyncio
from pathlib import Path

from agent.archive.alert_store import AlertStore
from agent.archive.blobs import BlobStore
from agent.archive.embedder import Embedder
from agent.archive.missed_store import MissedStore
from agent.archive.settings import ArchiveSettings
from agent.archive.store import ArchiveStore
from agent.reports.store import ReportStore


class ArchiveAccess:
    def __init__(self, settings: ArchiveSettings, data_dir: Path) -> None:
        self._settings = settings
        self._data_dir = data_dir
        self._opening = asyncio.Lock()
        self._opened: tuple[ArchiveStore, Embedder] | None = None
        self._alerts: AlertStore | None = None
        self._windows: ArchiveStore | None = None
        self._reports: ReportStore | None = None
        self._missed: MissedStore | None = None
        self._blobs: BlobStore | None = None

    async def open(self) -> tuple[ArchiveStore, Embedder]:
        async with self._opening:
            if self._opened is None:
                settings = self._settings
                embedder = await asyncio.to_thread(Embedder.load, settings.embedding_model)
                store = await ArchiveStore.open(
                    settings, self._data_dir, embedder.dim, writer=False
                )
                self._opened = (store, embedder)
            return self._opened

    async def alerts(self) -> AlertStore | None:
        """The archived alerts (no embedding model needed); None until an archiver has
        created their table."""
        async with self._opening:
            if self._alerts is None:
                blobs = await asyncio.to_thread(BlobStore.open, self._settings, self._data_dir)
                self._alerts = await AlertStore.open_existing(self._settings, self._data_dir, blobs)
            return self._alerts

    async def windows(self) -> ArchiveStore | None:
        """The archived windows without the embedding model (reports count and read
        them, they never search); None until an archiver has created their table."""
        async with self._opening:
            if self._windows is None:
                self._windows = await ArchiveStore.open_existing(self._settings, self._data_dir)
            return self._windows

    async def reports(self) -> ReportStore:
        async with self._opening:
            if self._reports is None:
                self._reports = await ReportStore.open(self._settings, self._data_dir)
            return self._reports

    async def missed(self) -> MissedStore:
        async with self._opening:
            if self._missed is None:
                self._missed = await MissedStore.open(self._settings, self._data_dir)
            return self._missed

    async def blobs(self) -> BlobStore:
        """The archive's files (evidence and context clips)."""
        async with self._opening:
            if self._blobs is None:
                self._blobs = await asyncio.to_thread(
                    BlobStore.open, self._settings, self._data_dir
                )
            return self._blobs
