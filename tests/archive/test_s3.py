"""The store and its thumbnails on an S3-compatible object store (moto's server)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from agent.archive.blobs import BlobStore, thumbnail_path
from agent.archive.embedder import Embedder
from agent.archive.search import WindowFilter, search_windows
from agent.archive.store import ArchiveStore, WindowRow
from tests.archive.conftest import T0_MS, WINDOW_MS, s3_settings, window_record, window_rows
from tests.servers.s3 import S3Server


def test_blobs_on_s3(s3_server: S3Server, tmp_path: Path) -> None:
    blobs = BlobStore.open(s3_settings(s3_server, "blobs"), tmp_path)
    key = blobs.put(thumbnail_path("dock", T0_MS), b"jpeg")
    assert blobs.get(key) == b"jpeg"
    blobs.delete([key, "thumbnails/dock/none.jpg"])
    assert blobs.get(key) is None
    assert not list(tmp_path.iterdir())


async def test_the_archive_on_s3(s3_server: S3Server, embedder: Embedder, tmp_path: Path) -> None:
    settings = s3_settings(s3_server, "archive")
    store = await ArchiveStore.open(settings, tmp_path, embedder.dim)
    records = [
        window_record(camera, T0_MS + i * WINDOW_MS, caption, ("vehicle",))
        for i, (camera, caption) in enumerate(
            [("dock", "a truck backs up"), ("dock", "a van unloads"), ("gate", "a truck waits")]
        )
    ]
    rows = [
        WindowRow(
            row.record,
            store.blobs.put(thumbnail_path(row.record.camera_id, row.record.start_ms), b"jpeg"),
            row.vector,
        )
        for row in window_rows(embedder, records)
    ]
    await store.upsert_windows(rows)
    await store.upsert_windows(rows)
    assert await store.count_windows() == 3

    reader = await ArchiveStore.open(settings, tmp_path, embedder.dim)
    hits = await search_windows(reader, embedder, "truck", WindowFilter(camera="gate"), 5)
    assert [hit.window.window_id for hit in hits] == [records[2].window_id]

    assert await store.delete_windows_before(records[1].end_ms + 1) == 2
    await store.optimize()
    assert await store.count_windows() == 1
    assert [store.blobs.get(row.thumbnail_uri or "") for row in rows] == [None, None, b"jpeg"]
    assert await asyncio.to_thread(os.listdir, tmp_path) == []  # nothing on the local disk
