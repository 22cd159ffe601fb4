"""Redis memory per alert once the hot retention has moved it to the archive.

A simulated run in rounds: each round the real alert book opens and closes ``per_round``
alerts on one camera, each with ``frames`` evidence JPEGs, then, once the hot retention
(``HOT_RETENTION_H``, 0.36 s here) has passed, the real mover archives them (clip encoded,
summary embedded) and deletes them from Redis and trims their events. The summary jobs'
dedup markers expire after a day by themselves; the simulation, whose alerts stand for
days of them, deletes them as their expiry would. ``used_memory`` (less the job stream,
which has its own bound) is read after each round: after the first (the warm-up: Redis's
own structures grow once), it should stay where it is, so the bytes per alert after
retention are the growth from the first round to the last over the alerts in between.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np
import redis.asyncio as aioredis
from PIL import Image

from agent.archive.alert_mover import AlertMover
from agent.archive.alert_rows import AlertRows
from agent.archive.alert_store import AlertStore
from agent.archive.blobs import BlobStore
from agent.archive.embedder import Embedder
from agent.archive.settings import ArchiveSettings
from agent.pipeline.alert_book import AlertBook
from agent.pipeline.alert_state import WindowResult
from agent.pipeline.rules import Rule
from agent.pipeline.settings import AlertSettings
from streams.buffer.frames import FrameRecord
from streams.bus.keys import Keys

Figures = dict[str, float | int | str | None]
HOT_RETENTION_H = 0.0001
FPS = 4.0
WINDOW_MS = 8_000
GRAIN = 5.0
JOBS_MAX_LEN = 100  # the job stream's bound is the workers' concern, not the alerts'
RULE = Rule(
    id="lane", question="Is a person in the lane?", consecutive=1,
    close_after_s=WINDOW_MS / 1000, cooldown_s=0.0,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class RetentionConfig:
    rounds: int = 5
    per_round: int = 40
    frames: int = 24  # evidence JPEGs per alert
    width: int = 640
    height: int = 388  # 360 and the timestamp strip
    seed: int = 1


async def redis_bytes_per_alert_after_retention(
    client: aioredis.Redis, keys: Keys, folder: Path, config: RetentionConfig
) -> Figures:
    """The simulated run against the Redis of ``client`` (keys under ``keys``) and an
    archive in ``folder``; ``folder`` must be empty."""
    settings = ArchiveSettings()
    embedder = await asyncio.to_thread(Embedder.load, settings.embedding_model)
    blobs = await asyncio.to_thread(BlobStore.open, settings, folder)
    store = await AlertStore.open(settings, folder, embedder.dim, blobs)
    rows = AlertRows(client, keys, store, embedder, FPS)
    alerts = AlertSettings(hot_retention_h=HOT_RETENTION_H, summary_wait_s=0.0)
    mover = AlertMover(client, keys, alerts, store, rows)
    book = AlertBook(client, keys, FPS, JOBS_MAX_LEN)
    jpegs = evidence_jpegs(config)
    used: list[int] = []
    hot: list[int] = []
    move_s = 0.0
    for round_index in range(config.rounds):
        before = await used_memory(client, keys)
        await write_alerts(book, config, round_index, jpegs)
        hot.append(await used_memory(client, keys) - before)
        await asyncio.sleep(HOT_RETENTION_H * 3600 + 0.05)
        started = time.perf_counter()
        await move(mover)
        move_s += time.perf_counter() - started
        await expire_job_markers(client, keys)
        used.append(await used_memory(client, keys))
    moved = config.per_round * config.rounds
    after_warmup = config.per_round * (config.rounds - 1)
    return {
        "alerts": moved,
        "evidence_frames_per_alert": config.frames,
        "redis_bytes_per_alert_hot": round(sum(hot) / moved),
        "redis_bytes_per_alert_after_retention": round((used[-1] - used[0]) / after_warmup, 1),
        "redis_used_memory_after_each_round": " ".join(str(value) for value in used),
        "archived_alerts": await store.count(),
        "ms_per_alert_moved": round(move_s * 1000 / moved, 1),
    }


async def move(mover: AlertMover) -> None:
    await mover.archive_settled()
    await mover.move_expired()
    await mover.trim_streams()


def evidence_jpegs(config: RetentionConfig) -> list[bytes]:
    """A grainy scene with a block moving across it (JPEGs about as large as a camera's
    of this size), one image per frame."""
    rng = np.random.default_rng(config.seed)
    base = np.linspace(0, 255, config.width, dtype=np.float32)[None, :, None]
    grain = rng.normal(0, GRAIN, (config.height, config.width, 3))
    frames = []
    for index in range(config.frames):
        picture = np.clip(base + grain, 0, 255).astype(np.uint8)
        left = index * (config.width // (config.frames + 1))
        picture[config.height // 3 : config.height // 2, left : left + config.width // 8] = 30
        out = io.BytesIO()
        Image.fromarray(picture).save(out, format="JPEG", quality=80)
        frames.append(out.getvalue())
    return frames


async def write_alerts(
    book: AlertBook, config: RetentionConfig, round_index: int, jpegs: Sequence[bytes]
) -> None:
    """``per_round`` alerts opened and closed by one positive and one negative window,
    each a day apart in window time from the round before."""
    start_ms = int(time.time() * 1000) - 86_400_000 + round_index * config.per_round * 20_000

    async def frames(start_s: float, end_s: float) -> list[FrameRecord]:
        return [
            FrameRecord("dock", start_s + index / FPS, index, 0.0, config.width, 0, jpeg)
            for index, jpeg in enumerate(jpegs)
        ]

    for number in range(config.per_round):
        at = start_ms + number * 20_000
        opening = WindowResult(at, at + WINDOW_MS, True, 0.9, "a person walks into the lane")
        await book.apply("dock", RULE, opening, frames)
        closing = WindowResult(at + 10_000, at + 18_000, False, 0.1, "the lane is empty")
        await book.apply("dock", RULE, closing)


async def expire_job_markers(client: aioredis.Redis, keys: Keys) -> None:
    pattern = keys.job_seen("*")
    async for key in client.scan_iter(match=pattern, count=1000):
        await client.unlink(key)


async def used_memory(client: aioredis.Redis, keys: Keys) -> int:
    """Redis's ``used_memory`` but for the job stream, which fills up to its own bound
    (``JOBS_MAX_LEN`` here) with the alerts' summary jobs whether alerts move or not."""
    info = cast(dict[str, int], await client.info("memory"))
    jobs = await client.memory_usage(keys.jobs) or 0
    return info["used_memory"] - jobs
