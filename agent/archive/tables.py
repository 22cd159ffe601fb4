"""What the archive's LanceDB tables share: the connection, and writes that another
process's commit may pre-empt."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import lancedb

from agent.archive.settings import ArchiveSettings

log = logging.getLogger(__name__)

WRITE_ATTEMPTS = 3


async def connect(settings: ArchiveSettings, data_dir: Path) -> lancedb.AsyncConnection:
    return await lancedb.connect_async(
        settings.resolved_uri(data_dir),
        storage_options=settings.storage_options() or None,
        read_consistency_interval=timedelta(seconds=settings.read_consistency_s),
    )


async def retry_on_conflict(
    write: Callable[[], Awaitable[object]], lock: asyncio.Lock, retry_s: float, what: str
) -> None:
    """Runs ``write`` under ``lock`` (this process's writes take turns); when another
    process's commit wins, tries again after ``retry_s`` times the attempt. A RuntimeError
    after WRITE_ATTEMPTS."""
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        try:
            async with lock:
                await write()
            return
        except RuntimeError as error:
            if "Retryable commit conflict" not in str(error) or attempt == WRITE_ATTEMPTS:
                raise
            log.info("archive: %s pre-empted by another writer (try %d)", what, attempt)
            await asyncio.sleep(retry_s * attempt)
