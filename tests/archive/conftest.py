"""The archive's parts for real: LanceDB tables in temporary directories (or on a local
S3-compatible server) and the embedding model, loaded once per session."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from agent.archive.embedder import Embedder
from agent.archive.settings import ArchiveSettings, S3Settings
from agent.archive.store import ArchiveStore, WindowRow
from agent.pipeline.archive_records import RuleVerdict, WindowRecord
from tests.conftest import free_port
from tests.servers.s3 import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, S3Server

MODEL = "all-MiniLM-L6-v2"
T0_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
WINDOW_MS = 8_000


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return Embedder.load(MODEL)


@pytest.fixture
async def store(tmp_path: Path, embedder: Embedder) -> ArchiveStore:
    return await ArchiveStore.open(ArchiveSettings(), tmp_path, embedder.dim)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    server = S3Server(free_port()).start()
    yield server
    server.stop()


def s3_settings(server: S3Server, prefix: str) -> ArchiveSettings:
    return ArchiveSettings(
        uri=f"s3://{server.bucket}/{prefix}",
        s3=S3Settings(
            endpoint_url=server.endpoint_url,
            region=REGION,
            access_key_id=ACCESS_KEY_ID,
            secret_access_key=SECRET_ACCESS_KEY,
            allow_http=True,
        ),
    )


def window_record(
    camera: str,
    start_ms: int,
    caption: str,
    detected: Sequence[str] = (),
    asked: Sequence[str] = ("person", "vehicle"),
) -> WindowRecord:
    verdicts = tuple(
        RuleVerdict(rule, rule in detected, 0.9, f"{rule}? {caption}")
        for rule in dict.fromkeys([*asked, *detected])
    )
    return WindowRecord(
        camera_id=camera,
        start_ms=start_ms,
        end_ms=start_ms + WINDOW_MS,
        caption=caption,
        verdicts=verdicts if caption else (),
        unchanged_since=None,
        thumbnail_ms=None,
    )


def still_record(camera: str, start_ms: int, last_analysed: str) -> WindowRecord:
    """A window the scheduler skipped as still: no caption, no verdicts."""
    return WindowRecord(camera, start_ms, start_ms + WINDOW_MS, "", (), last_analysed, None)


def window_rows(
    embedder: Embedder, records: Sequence[WindowRecord], thumbnail: str | None = None
) -> list[WindowRow]:
    vectors = embedder.embed([record.caption for record in records])
    return [
        WindowRow(record, thumbnail, vector)
        for record, vector in zip(records, vectors, strict=True)
    ]


async def add_windows(
    store: ArchiveStore, embedder: Embedder, records: Sequence[WindowRecord]
) -> None:
    await store.upsert_windows(window_rows(embedder, records))
