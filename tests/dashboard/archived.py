"""Windows committed to the dashboard's archive before Vigil starts (real LanceDB and the
real embedding model): older than the frame buffer, each with a thumbnail of its own
colour, so the search page has known history to find beside what the pipeline adds."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from dataclasses import dataclass

import cv2
import numpy as np

from agent.archive.blobs import thumbnail_path
from agent.archive.embedder import Embedder
from agent.archive.store import ArchiveStore, WindowRow
from agent.runtime.config import VigilSettings
from tests.archive.conftest import window_record, window_rows

HOUR_MS = 3_600_000
THUMBNAIL_SIZE = (320, 180)


@dataclass(frozen=True)
class PastWindow:
    camera: str
    hours_ago: float
    caption: str
    detected: tuple[str, ...]
    rgb: tuple[int, int, int]  # the thumbnail's one colour


ARCHIVED = {
    "bicycle": PastWindow(
        "ghost", 2.0, "A man on a bicycle rides past the closed gate.", ("person",), (40, 170, 60)
    ),
    "van": PastWindow(
        "street",
        0.8,
        "A delivery van double-parks outside the bakery.",
        ("vehicle",),
        (200, 120, 30),
    ),
    "truck": PastWindow(
        "street",
        30.0,
        "A white truck unloads crates onto the pavement.",
        ("vehicle",),
        (30, 90, 200),
    ),
    "snow": PastWindow(
        "ghost", 72.0, "Snow covers the empty car park under the lamps.", (), (220, 220, 230)
    ),
}


def solid_jpeg(rgb: tuple[int, int, int]) -> bytes:
    width, height = THUMBNAIL_SIZE
    picture = np.full((height, width, 3), rgb[::-1], np.uint8)  # OpenCV orders BGR
    ok, jpeg = cv2.imencode(".jpg", picture)
    assert ok
    return bytes(jpeg)


def _with_thumbnail(store: ArchiveStore, row: WindowRow, rgb: tuple[int, int, int]) -> WindowRow:
    path = thumbnail_path(row.record.camera_id, row.record.start_ms)
    return dataclasses.replace(row, thumbnail_uri=store.blobs.put(path, solid_jpeg(rgb)))


async def _commit(settings: VigilSettings, now_ms: int) -> dict[str, str]:
    embedder = Embedder.load(settings.archive.embedding_model)
    store = await ArchiveStore.open(settings.archive, settings.data_dir, embedder.dim)
    records = {
        name: window_record(w.camera, now_ms - round(w.hours_ago * HOUR_MS), w.caption, w.detected)
        for name, w in ARCHIVED.items()
    }
    rows = window_rows(embedder, list(records.values()))
    colours = [window.rgb for window in ARCHIVED.values()]
    await store.upsert_windows(
        [_with_thumbnail(store, row, rgb) for row, rgb in zip(rows, colours, strict=True)]
    )
    return {name: record.window_id for name, record in records.items()}


def commit_archived(settings: VigilSettings) -> dict[str, str]:
    """Commits ``ARCHIVED`` to the archive ``settings`` name; their window ids by name."""
    return asyncio.run(_commit(settings, int(time.time() * 1000)))
