from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from lancedb.query import AsyncQueryBase

from agent.archive import store as store_module
from agent.archive.blobs import thumbnail_path
from agent.archive.embedder import Embedder
from agent.archive.settings import ArchiveSettings
from agent.archive.store import ArchiveSchemaError, ArchiveStore, WindowFilter, WindowRow
from agent.pipeline.archive_records import RuleVerdict, WindowRecord
from tests.archive.conftest import (
    T0_MS,
    WINDOW_MS,
    add_windows,
    still_record,
    window_record,
    window_rows,
)


async def test_an_empty_archive_answers_every_read(store: ArchiveStore) -> None:
    assert await store.count_windows() == 0
    assert await store.count_windows(WindowFilter(camera="dock", rule="person")) == 0
    assert await store.window("dock:0") is None
    assert await store.delete_windows_before(T0_MS) == 0
    await store.upsert_windows([])
    await store.optimize()
    assert (await store.stats()).rows == 0


async def test_committing_the_same_windows_twice_leaves_one_row_each(
    store: ArchiveStore, embedder: Embedder
) -> None:
    records = [
        window_record("dock", T0_MS + i * WINDOW_MS, f"truck {i} at the dock") for i in range(5)
    ]
    await add_windows(store, embedder, records)
    await add_windows(store, embedder, records)
    assert await store.count_windows() == 5
    changed = window_record("dock", T0_MS, "an empty dock")
    await add_windows(store, embedder, [changed, changed])  # twice in one batch too
    assert await store.count_windows() == 5
    stored = await store.window(changed.window_id)
    assert stored is not None
    assert stored.caption == "an empty dock"


async def test_a_window_reads_back_with_its_fields(store: ArchiveStore, embedder: Embedder) -> None:
    analysed = window_record(
        "o'brien", T0_MS, "a man in a red coat", ("person",), ("person", "fire")
    )
    still = still_record("o'brien", T0_MS + WINDOW_MS, analysed.window_id)
    rows = window_rows(embedder, [analysed, still], thumbnail=thumbnail_path("o'brien", T0_MS))
    await store.upsert_windows(rows)
    stored = await store.window(analysed.window_id)
    assert stored is not None
    assert (stored.camera_id, stored.start_ms, stored.end_ms) == (
        "o'brien",
        T0_MS,
        T0_MS + WINDOW_MS,
    )
    assert stored.rules == ("person", "fire")
    assert stored.detected_rules == ("person",)
    assert stored.verdicts == analysed.verdicts
    assert all(isinstance(verdict, RuleVerdict) for verdict in stored.verdicts)
    assert stored.thumbnail_uri == f"thumbnails/o'brien/2026-01-01/{T0_MS}.jpg"
    skipped = await store.window(still.window_id)
    assert skipped is not None
    assert (skipped.caption, skipped.verdicts, skipped.unchanged_since) == (
        "",
        (),
        analysed.window_id,
    )


async def test_counts_follow_the_filter(store: ArchiveStore, embedder: Embedder) -> None:
    await add_windows(
        store,
        embedder,
        [
            window_record("dock", T0_MS, "a person at the dock", ("person",)),
            window_record("dock", T0_MS + WINDOW_MS, "a truck at the dock", ("vehicle",)),
            window_record("o'brien", T0_MS, "a person at the gate", ("person",)),
            window_record("gate' OR '1'='1", T0_MS, "nobody"),
        ],
    )
    assert await store.count_windows(WindowFilter(camera="dock")) == 2
    assert await store.count_windows(WindowFilter(camera="o'brien")) == 1
    assert await store.count_windows(WindowFilter(camera="gate' OR '1'='1")) == 1
    assert await store.count_windows(WindowFilter(camera="gate")) == 0
    assert await store.count_windows(WindowFilter(rule="person")) == 2
    assert await store.count_windows(WindowFilter(rule="person' OR 'x'='x")) == 0
    assert await store.count_windows(WindowFilter(since_ms=T0_MS + 1)) == 1
    assert await store.count_windows(WindowFilter(until_ms=T0_MS + WINDOW_MS)) == 3


async def test_old_windows_go_with_their_thumbnails(
    store: ArchiveStore, embedder: Embedder
) -> None:
    records = [window_record("dock", T0_MS + i * WINDOW_MS, f"truck {i}") for i in range(4)]
    rows = [
        WindowRow(
            row.record,
            store.blobs.put(thumbnail_path("dock", row.record.start_ms), b"jpeg"),
            row.vector,
        )
        for row in window_rows(embedder, records)
    ]
    await store.upsert_windows(rows)
    cutoff = records[2].end_ms  # windows 0 and 1 end before it
    assert await store.delete_windows_before(cutoff) == 2
    assert await store.count_windows() == 2
    assert await store.window(records[1].window_id) is None
    assert [store.blobs.get(row.thumbnail_uri or "") for row in rows] == [
        None,
        None,
        b"jpeg",
        b"jpeg",
    ]
    assert await store.delete_windows_before(cutoff) == 0


async def test_optimize_compacts_many_small_commits_and_keeps_the_data(
    store: ArchiveStore, embedder: Embedder
) -> None:
    records = [
        window_record("dock", T0_MS + i * WINDOW_MS, f"truck {i} unloads") for i in range(30)
    ]
    for row in window_rows(embedder, records):
        await store.upsert_windows([row])
    before = await store.stats()
    assert (before.rows, before.fragments) == (30, 30)
    assert before.versions > 30
    await store.optimize()  # recent versions are kept for readers in other processes
    compacted = await store.stats()
    assert (compacted.rows, compacted.fragments) == (30, 1)
    with pytest.warns(UserWarning, match="removes every version"):
        await store.optimize(keep_versions_for=timedelta(0))
    assert (await store.stats()).versions == 1
    assert await store.count_windows(WindowFilter(camera="dock")) == 30
    hits = await store.text_search("unloads", WindowFilter(camera="dock"), 50)
    assert len(hits) == 30


async def test_optimize_while_the_store_keeps_rewriting_rows(
    store: ArchiveStore, embedder: Embedder
) -> None:
    rows = window_rows(
        embedder, [window_record("dock", T0_MS + i, f"crate {i}") for i in range(20)]
    )
    await store.upsert_windows(rows)
    done = asyncio.Event()

    async def rewrite() -> None:
        while not done.is_set():  # updates: the writes a compaction would lose to
            await store.upsert_windows(rows[:3])
            await asyncio.sleep(0.001)

    async def optimize() -> None:
        for _ in range(10):
            await asyncio.sleep(0.02)
            await store.optimize()
        done.set()

    await asyncio.gather(rewrite(), optimize())
    assert await store.count_windows() == 20


async def test_indexes_are_made_once_and_the_vector_index_only_when_large(
    store: ArchiveStore, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store.ensure_indexes()
    await store.ensure_indexes()
    indexed = ("camera", "caption", "detected_rules", "start_ms", "window_id")
    assert (await store.stats()).indexed_columns == indexed
    generator = np.random.default_rng(7)
    vectors = generator.normal(size=(300, embedder.dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    camera = ["dock", "gate"]
    await store.upsert_windows(
        [
            WindowRow(window_record(camera[i % 2], T0_MS + i, f"scene {i}"), None, vector)
            for i, vector in enumerate(vectors)
        ]
    )
    monkeypatch.setattr(store_module, "VECTOR_INDEX_MIN_ROWS", 300)
    await store.ensure_indexes()
    assert "vector" in (await store.stats()).indexed_columns
    nearest = await store.vector_search(vectors[3], WindowFilter(camera="gate"), 5)
    assert nearest[0].window_id == f"gate:{T0_MS + 3}"
    assert {window.camera_id for window in nearest} == {"gate"}


async def test_another_process_sees_the_writes(
    store: ArchiveStore, embedder: Embedder, tmp_path: Path
) -> None:
    reader = await ArchiveStore.open(ArchiveSettings(read_consistency_s=0), tmp_path, embedder.dim)
    assert await reader.count_windows() == 0
    await add_windows(store, embedder, [window_record("dock", T0_MS, "a van")])
    assert await reader.count_windows() == 1


async def test_an_archive_of_another_vector_size_is_refused(
    store: ArchiveStore, tmp_path: Path
) -> None:
    with pytest.raises(ArchiveSchemaError, match="vectors of 512"):
        await ArchiveStore.open(ArchiveSettings(), tmp_path, 512)


def _fixed_rows(store: ArchiveStore, records: Sequence[WindowRecord]) -> list[WindowRow]:
    """Rows with one made-up vector each: what is read back here is not their meaning."""
    return [WindowRow(record, None, np.ones(store.dim, np.float32)) for record in records]


async def test_detections_are_sorted_and_cut_by_lancedb(
    store: ArchiveStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    starts = list(range(300))
    random.Random(7).shuffle(starts)  # committed out of time order, in several fragments
    records = [
        window_record(
            "dock" if n % 3 else "gate",
            T0_MS + n * WINDOW_MS,
            f"window {n}",
            ("person",) if n % 2 else (),
        )
        for n in starts
    ]
    for batch in range(0, len(records), 100):
        await store.upsert_windows(_fixed_rows(store, records[batch : batch + 100]))
    read: list[int] = []
    to_arrow = AsyncQueryBase.to_arrow

    async def counted(query: AsyncQueryBase, *args: object, **kwargs: object) -> pa.Table:
        table = await to_arrow(query, *args, **kwargs)  # type: ignore[arg-type]
        read.append(table.num_rows)
        return table

    monkeypatch.setattr(AsyncQueryBase, "to_arrow", counted)
    newest = await store.detections(WindowFilter(camera="dock"), 10)
    detected = sorted((n for n in range(300) if n % 2 and n % 3), reverse=True)
    assert [d.start_ms for d in newest] == [T0_MS + n * WINDOW_MS for n in detected[:10]]
    assert read == [10]  # LanceDB sorted and cut: ten rows reached Python, not 100
    since = WindowFilter(since_ms=T0_MS + 290 * WINDOW_MS)
    assert [d.start_ms for d in await store.detections(since, 100)] == [
        T0_MS + n * WINDOW_MS for n in (299, 297, 295, 293, 291)
    ]
    assert await store.detections(None, 0) == []


async def test_still_until_reads_the_last_still_end_of_each_window(store: ArchiveStore) -> None:
    analysed = [window_record("dock", T0_MS + n * 10 * WINDOW_MS, f"scene {n}") for n in range(2)]
    stills = [
        still_record("dock", analysed[0].start_ms + n * WINDOW_MS, analysed[0].window_id)
        for n in range(1, 6)
    ]
    await store.upsert_windows(_fixed_rows(store, [*analysed, *stills]))
    ends = await store.still_until([w.window_id for w in analysed])
    assert ends == {analysed[0].window_id: stills[-1].end_ms}
    assert await store.still_until([]) == {}


async def test_captioned_windows_can_be_capped_to_the_newest(store: ArchiveStore) -> None:
    records = [window_record("dock", T0_MS + n * WINDOW_MS, f"scene {n}") for n in range(30)]
    await store.upsert_windows(_fixed_rows(store, records[::-1]))
    windows, vectors = await store.captioned_windows(WindowFilter(camera="dock"), limit=4)
    assert [w.window_id for w in windows] == [r.window_id for r in records[:-5:-1]]
    assert vectors.shape == (4, store.dim)
    everything, _ = await store.captioned_windows(WindowFilter(camera="dock"))
    assert len(everything) == 30
