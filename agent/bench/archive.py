"""``vigil bench archive``: windows committed per second through the real committer,
search latency over a large archive beside a brute-force scan, and bytes per camera-day.

One private Redis and one archive directory. First ``rows`` windows are written to the
archive's table (``cameras`` cameras, evenly over ``days`` days, ``still_share`` of them
skipped as still) through ``ArchiveStore.upsert_windows``; their captions come from a pool
of ``pool`` template captions embedded once, whose vectors are reused across rows. The
table is compacted and indexed as the archiver's upkeep does it. Then each of ``queries``
searches (a template query, one camera, one day) runs through ``search_windows`` and
through ``scan_windows`` (every filtered vector scored exactly) in turn, then half as many
over one camera's whole archive. Then two runs of the committer: records XADDed to the
``archive`` stream with each window's middle frame (demo street footage) buffered, drained
by ``Committer.collect`` and ``commit`` in batches of the default size into the same
table: once with the still share, once with every window analysed. Sizes: the table's
files after compaction, per row, and the thumbnails the committer cut in the run with the
still share, per window of that run (still windows show their analysed window's), times
the windows of a camera-day. Last, Redis memory per alert once the hot retention has
moved it to the archive (``agent.bench.alert_retention``).
"""

from __future__ import annotations

import asyncio
import itertools
import math
import random
import tempfile
import time
import warnings
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import numpy as np
import redis.asyncio as aioredis

from agent.archive.blobs import thumbnail_path
from agent.archive.committer import ArchiveParts, Committer
from agent.archive.embedder import Embedder
from agent.archive.search import scan_windows, search_windows
from agent.archive.settings import ArchiveSettings
from agent.archive.store import TABLE, ArchiveStore, WindowFilter, WindowRow
from agent.bench.alert_retention import RetentionConfig, redis_bytes_per_alert_after_retention
from agent.bench.archive_load import (
    DAY_MS,
    T0_MS,
    WINDOW_MS,
    Layout,
    demo_frames,
    query,
    scene,
)
from agent.bench.archive_load import window_records as layout_records
from agent.bench.delivery import percentile
from agent.bench.output import echo_figures
from agent.pipeline.archive_records import WindowRecord, add_window
from agent.runtime.embedded_redis import EmbeddedRedis
from streams.buffer.frames import FrameRecord, append_frame
from streams.bus.keys import Keys

Figures = dict[str, float | int | str | None]
KEYS = Keys("bench:")
# Defaults but for the wait to fill the last, partial batch of a run.
SETTINGS = ArchiveSettings(batch_s=0.05)
BUILD_BATCH = 100_000
LOAD_BATCH = 1_000  # records XADDed per pipeline
WARMUP_QUERIES = 3
RESULTS = 20  # search_windows' default limit
CAMERA_DAY_WINDOWS = DAY_MS // WINDOW_MS  # one camera analysed every 8-s window
FRAMES = 64
# Pooled vectors get this much noise per row (cosine to the pool's ~0.98), as distinct
# captions have distinct vectors; an index built over exact copies would be unlike one.
JITTER = 0.01
SEARCHES = {"search": search_windows, "scan": scan_windows}


@dataclass(frozen=True, slots=True)
class BenchConfig:
    rows: int = 1_000_000
    cameras: int = 100
    days: float = 28.0
    still_share: float = 0.5
    queries: int = 50
    commit_rows: int = 3_000
    alerts_per_round: int = 40  # alerts moved per round of the retention run
    pool: int = 2_000  # captions drawn for the table (repeats dropped), embedded once
    commit_cameras: int = 50
    seed: int = 1


def main(config: BenchConfig, as_json: bool) -> None:
    echo_figures(measure(config), as_json, width=40)


def measure(config: BenchConfig) -> Figures:
    with (
        tempfile.TemporaryDirectory(prefix="vigil-bench-archive-") as folder,
        EmbeddedRedis(Path(folder) / "redis", append_only=False) as server,
    ):
        return asyncio.run(_bench(config, Path(folder), server.url))


async def _bench(config: BenchConfig, folder: Path, redis_url: str) -> Figures:
    started = time.perf_counter()
    rng = random.Random(config.seed)
    embedder = await asyncio.to_thread(Embedder.load, SETTINGS.embedding_model)
    store = await ArchiveStore.open(SETTINGS, folder, embedder.dim)
    result: Figures = {"rows": config.rows, "still_share": config.still_share}
    result |= await build(store, embedder, config, rng)
    result |= await search(store, embedder, config, rng)
    row_bytes = await table_bytes(store, folder / "archive" / f"{TABLE}.lance") / config.rows
    parts = TimedParts(store, embedder, SETTINGS.thumbnail_width)
    result |= await commit_runs(parts, redis_url, config, rng)
    result |= _sizes(row_bytes, folder / "archive" / "thumbnails", config.commit_rows)
    retention = RetentionConfig(per_round=config.alerts_per_round)
    result |= await _alert_retention(redis_url, folder / "alerts", retention)
    return result | {"run_s": round(time.perf_counter() - started, 1)}


async def _alert_retention(redis_url: str, folder: Path, config: RetentionConfig) -> Figures:
    client = aioredis.from_url(redis_url)
    try:
        return await redis_bytes_per_alert_after_retention(
            client, Keys("bench-alerts:"), folder, config
        )
    finally:
        await client.aclose()


async def build(
    store: ArchiveStore, embedder: Embedder, config: BenchConfig, rng: random.Random
) -> Figures:
    """The archive's table of ``config.rows`` windows, compacted and indexed."""
    scenes = list({s.caption: s for s in (scene(rng) for _ in range(config.pool))}.values())
    started = time.perf_counter()
    vectors = await asyncio.to_thread(embedder.embed, [s.caption for s in scenes])
    pool_s = time.perf_counter() - started
    by_caption = dict(zip((s.caption for s in scenes), vectors, strict=True))
    noise = np.random.default_rng(config.seed)
    started = time.perf_counter()
    records = layout_records(_table_layout(config), rng, scenes)
    while batch := list(itertools.islice(records, BUILD_BATCH)):
        await store.upsert_windows(_rows(batch, by_caption, embedder.dim, noise))
    upsert_s = time.perf_counter() - started
    await store.optimize()
    optimize_s = time.perf_counter() - started - upsert_s
    await store.ensure_indexes()
    index_s = time.perf_counter() - started - upsert_s - optimize_s
    stats = await store.stats()
    return {
        "pool_captions": len(scenes),
        "pool_embed_s": round(pool_s, 1),
        "build_upsert_s": round(upsert_s, 1),
        "build_optimize_s": round(optimize_s, 1),
        "build_index_s": round(index_s, 1),
        "build_s": round(upsert_s + optimize_s + index_s, 1),
        "indexed_columns": ",".join(stats.indexed_columns),
    }


def _rows(
    records: Sequence[WindowRecord],
    by_caption: dict[str, np.ndarray],
    dim: int,
    noise: np.random.Generator,
) -> list[WindowRow]:
    """Rows with their caption's pooled vector, jittered and normalised (a still window
    gets zeros, as from the committer), and a thumbnail key (no file)."""
    vectors = np.zeros((len(records), dim), np.float32)
    analysed = [index for index, record in enumerate(records) if record.caption]
    if analysed:
        pooled = np.stack([by_caption[records[index].caption] for index in analysed])
        pooled += noise.standard_normal(pooled.shape, np.float32) * JITTER
        vectors[analysed] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
    return [
        WindowRow(record, thumbnail_path(record.camera_id, record.start_ms), vector)
        for record, vector in zip(records, vectors, strict=True)
    ]


async def search(
    store: ArchiveStore, embedder: Embedder, config: BenchConfig, rng: random.Random
) -> Figures:
    """Hybrid search and the exact scan on the same queries, one camera and one day each;
    then half as many over one camera's whole archive (``camera_…`` figures)."""
    layout = _table_layout(config)
    days = max(1, int(config.days))

    def camera_day() -> WindowFilter:
        since_ms = layout.first_ms + rng.randrange(days) * DAY_MS
        camera = layout.camera(rng.randrange(config.cameras))
        return WindowFilter(camera=camera, since_ms=since_ms, until_ms=since_ms + DAY_MS)

    def camera() -> WindowFilter:
        return WindowFilter(camera=layout.camera(rng.randrange(config.cameras)))

    count = WARMUP_QUERIES + config.queries
    one_day = await searches(store, embedder, [(query(rng), camera_day()) for _ in range(count)])
    count = WARMUP_QUERIES + max(1, config.queries // 2)
    whole = await searches(store, embedder, [(query(rng), camera()) for _ in range(count)])
    return one_day | {f"camera_{name}": value for name, value in whole.items()}


async def searches(
    store: ArchiveStore, embedder: Embedder, cases: list[tuple[str, WindowFilter]]
) -> Figures:
    """Each case through both, in alternating order; the first few warm up, uncounted.
    Recall: the share of the exact top ``RESULTS`` that the vector index alone finds."""
    timings: dict[str, list[float]] = defaultdict(list)
    hits, filtered, recalls = [], [], []
    for number, (text, where) in enumerate(cases):
        answers = {}
        for kind in ("search", "scan") if number % 2 else ("scan", "search"):
            with _timed(timings, kind):
                answers[kind] = await SEARCHES[kind](store, embedder, text, where, RESULTS)
        with _timed(timings, "query_embed"):
            vector = (await asyncio.to_thread(embedder.embed, [text]))[0]
        nearest = {window.window_id for window in await store.vector_search(vector, where, RESULTS)}
        if number < WARMUP_QUERIES:
            timings.clear()
            continue
        hits.append(len(answers["search"]))
        filtered.append(await store.count_windows(where))
        exact = {hit.window.window_id for hit in answers["scan"]}
        if exact:
            recalls.append(len(exact & nearest) / len(exact))
    return {
        **_percentiles(timings, "search"),
        **_percentiles(timings, "scan"),
        "scan_over_search_p50": _ratio(timings["scan"], timings["search"], 0.5),
        "scan_over_search_p95": _ratio(timings["scan"], timings["search"], 0.95),
        "query_embed_p50_ms": _percentiles(timings, "query_embed")["query_embed_p50_ms"],
        "queries": len(hits),
        "queries_with_results": sum(1 for count in hits if count),
        "search_results_mean": _mean(hits, 1),
        "filtered_windows_mean": _mean(filtered, 0),
        "vector_recall_at_20": _mean(recalls, 3),
    }


class TimedParts(ArchiveParts):
    """The committer's parts, timing the embedding and the thumbnails (each in its
    thread, side by side) and counting the thumbnails cut."""

    def __init__(self, store: ArchiveStore, embedder: Embedder, thumbnail_width: int) -> None:
        super().__init__(store, embedder, thumbnail_width)
        self.spent_s: dict[str, list[float]] = defaultdict(list)
        self.thumbnails_cut = 0

    def embed_captions(self, records: Sequence[WindowRecord]) -> list[np.ndarray]:
        with _timed(self.spent_s, "embed"):
            return super().embed_captions(records)

    def store_thumbnails(
        self, records: Sequence[WindowRecord], frames: dict[str, FrameRecord]
    ) -> dict[str, str]:
        with _timed(self.spent_s, "thumbnails"):
            uris = super().store_thumbnails(records, frames)
        self.thumbnails_cut += len(uris)
        return uris


class TimedCommitter(Committer):
    """The committer, timing the building of rows (frames read, thumbnails, embedding)."""

    def __init__(self, client: aioredis.Redis, parts: TimedParts) -> None:
        super().__init__(client, KEYS, SETTINGS, parts, "bench")
        self.spent_s = parts.spent_s

    async def rows(self, records: list[WindowRecord]) -> list[WindowRow]:
        with _timed(self.spent_s, "rows"):
            return await super().rows(records)


async def commit_runs(
    parts: TimedParts, redis_url: str, config: BenchConfig, rng: random.Random
) -> Figures:
    """The committer's runs: with the still share, then every window analysed."""
    frames = await asyncio.to_thread(demo_frames, FRAMES)
    client = aioredis.from_url(redis_url)
    result: Figures = {}
    try:
        runs = [(config.still_share, ""), (0.0, "_analysed_only")]
        for run, (share, suffix) in enumerate(runs):
            layout = _commit_layout(config, share, run)
            figures = await commit_run(client, parts, layout, frames, rng)
            result |= {f"{name}{suffix}": value for name, value in figures.items()}
    finally:
        await client.aclose()
    return result


async def commit_run(
    client: aioredis.Redis,
    parts: TimedParts,
    layout: Layout,
    frames: Sequence[FrameRecord],
    rng: random.Random,
) -> Figures:
    """Rows per second from the stream into the table, and where the time went (ms per
    row): reading the records (Redis); building the rows (frames read, thumbnails and
    embedding side by side), within which the embedding and the thumbnails (decode,
    scale, encode, write) on their own; upsert (with the commit's counter and ack)."""
    records = list(layout_records(layout, rng))
    await _load(client, records, frames)
    parts.spent_s.clear()
    parts.thumbnails_cut = 0
    committer = TimedCommitter(client, parts)
    await committer.ensure_group()
    stop = asyncio.Event()
    committed = 0
    started = time.perf_counter()
    while committed < len(records):
        with _timed(parts.spent_s, "collect"):
            entries = await committer.collect(stop)
        if not entries:
            raise RuntimeError(f"the archive stream ran dry after {committed} records")
        with _timed(parts.spent_s, "commit"):
            await committer.commit(entries)
        committed += len(entries)
    elapsed = time.perf_counter() - started
    spent = {name: sum(times) for name, times in parts.spent_s.items()}
    per_row_ms = 1000 / committed
    return {
        "rows_per_s": round(committed / elapsed, 1),
        "committed": committed,
        "thumbnails_cut": parts.thumbnails_cut,
        "ms_per_row_collect": round(spent["collect"] * per_row_ms, 2),
        "ms_per_row_rows": round(spent["rows"] * per_row_ms, 2),
        "ms_per_row_embed": round(spent["embed"] * per_row_ms, 2),
        "ms_per_row_thumbnails": round(spent.get("thumbnails", 0.0) * per_row_ms, 2),
        "ms_per_row_upsert": round((spent["commit"] - spent["rows"]) * per_row_ms, 2),
    }


async def _load(
    client: aioredis.Redis, records: Sequence[WindowRecord], frames: Sequence[FrameRecord]
) -> None:
    """Each record on the ``archive`` stream, its middle frame buffered beforehand."""
    retention_s = (records[-1].end_ms - records[0].start_ms) / 1000 + 60
    for first in range(0, len(records), LOAD_BATCH):
        pipe = client.pipeline(transaction=False)
        for offset, record in enumerate(records[first : first + LOAD_BATCH]):
            assert record.thumbnail_ms is not None
            frame = frames[(first + offset) % len(frames)]
            frame = replace(frame, camera_id=record.camera_id, ts=record.thumbnail_ms / 1000)
            append_frame(pipe, KEYS, frame, retention_s)
        await pipe.execute()
        pipe = client.pipeline(transaction=False)
        for record in records[first : first + LOAD_BATCH]:
            await add_window(pipe, KEYS, record)
        await pipe.execute()


def _table_layout(config: BenchConfig) -> Layout:
    return Layout(config.cameras, config.rows, config.days, config.still_share)


def _commit_layout(config: BenchConfig, still_share: float, run: int) -> Layout:
    """Other cameras on a day after the table's, every 8-s window in a row."""
    first_ms = T0_MS + (math.ceil(config.days) + run) * DAY_MS
    return Layout(
        config.commit_cameras, config.commit_rows, 0, still_share, first_ms, _commit_prefix(run)
    )


def _commit_prefix(run: int) -> str:
    return f"live{run}"


async def table_bytes(store: ArchiveStore, table_dir: Path) -> int:
    """The table's files once compacted, every older version removed (nobody else reads
    this table, which LanceDB warns about)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "optimize.cleanup_older_than=0", UserWarning)
        await store.optimize(keep_versions_for=timedelta(0))
    return _folder_bytes(table_dir)


def _sizes(row_bytes: float, thumbnails: Path, windows: int) -> Figures:
    """Bytes per camera-day: the rows', and the thumbnails' that the run with the still
    share wrote (its cameras' folders) spread over its ``windows``, as a still window
    that shows its analysed window's thumbnail adds no file."""
    files = [path.stat().st_size for path in thumbnails.glob(f"{_commit_prefix(0)}-*/*/*.jpg")]
    thumbnail_bytes = sum(files) / len(files) if files else 0.0
    rows = round(row_bytes * CAMERA_DAY_WINDOWS)
    thumbs = round(sum(files) / windows * CAMERA_DAY_WINDOWS)
    return {
        "archive_row_bytes": round(row_bytes),
        "thumbnail_bytes_mean": round(thumbnail_bytes),
        "thumbnails_measured": len(files),
        "thumbnails_per_window": round(len(files) / windows, 3),
        "camera_day_windows": CAMERA_DAY_WINDOWS,
        "archive_rows_bytes_per_camera_day": rows,
        "archive_thumbnail_bytes_per_camera_day": thumbs,
        "archive_bytes_per_camera_day": rows + thumbs,
    }


def _folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


@contextmanager
def _timed(timings: dict[str, list[float]], name: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        timings[name].append(time.perf_counter() - started)


def _percentiles(timings: dict[str, list[float]], name: str) -> Figures:
    ordered = sorted(seconds * 1000 for seconds in timings[name])
    return {f"{name}_p50_ms": percentile(ordered, 0.5), f"{name}_p95_ms": percentile(ordered, 0.95)}


def _mean(values: Sequence[float], digits: int) -> float:
    return round(float(np.mean(values)), digits) if values else -1.0


def _ratio(slower: list[float], faster: list[float], fraction: float) -> float:
    low = percentile(sorted(faster), fraction)
    return round(percentile(sorted(slower), fraction) / low, 2) if low > 0 else -1.0
