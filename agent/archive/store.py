"""The archive's ``windows`` table (LanceDB): one row per analysed window, written by
upsert on the window id, read back by id, by filter, by words and by meaning, and
trimmed by age together with its thumbnails.

LanceDB merges concurrent commits, with two exceptions that matter here: two writers
upserting the same new window id at the same time both insert it, and a compaction
loses to any update or delete of the rows it rewrites. So one store (one committer)
writes, and its writes take turns.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from lancedb.index import FTS, Bitmap, BTree, HnswSq, LabelList
from lancedb.query import AsyncStandardQuery, ColumnOrdering
from lancedb.table import AsyncTable

from agent.archive.blobs import SHARED_THUMBNAIL_MS, BlobStore
from agent.archive.settings import ArchiveSettings
from agent.archive.tables import connect, retry_on_conflict
from agent.pipeline.archive_records import RuleVerdict, WindowRecord

log = logging.getLogger(__name__)

TABLE = "windows"
# Versions a reader in another process may still be reading; older ones are removed.
KEEP_VERSIONS_FOR = timedelta(minutes=10)
OPTIMIZE_RETRY_S = 1.0
# Below this an exact (flat) scan of the filtered rows is fast enough and never misses:
# 100,000 rows of 384 floats take ~250 ms on two cores; past it an approximate index pays.
VECTOR_INDEX_MIN_ROWS = 100_000
IndexKind = FTS | Bitmap | BTree | HnswSq | LabelList
SCALAR_INDEXES: dict[str, IndexKind] = {
    "window_id": BTree(),  # the upsert's join and lookups by id
    "camera": Bitmap(),
    "start_ms": BTree(),
    "detected_rules": LabelList(),
}
WINDOW_COLUMNS = [
    "window_id",
    "camera",
    "start_ms",
    "end_ms",
    "caption",
    "unchanged_since",
    "verdicts",
    "rules",
    "detected_rules",
    "thumbnail",
]


class ArchiveSchemaError(RuntimeError):
    """The table exists with other columns (another embedding size, another version)."""


@dataclass(frozen=True, slots=True)
class WindowRow:
    record: WindowRecord
    thumbnail_uri: str | None
    vector: np.ndarray  # (dim,) float32


@dataclass(frozen=True, slots=True)
class StoredWindow:
    window_id: str
    camera_id: str
    start_ms: int
    end_ms: int
    caption: str
    unchanged_since: str | None
    verdicts: tuple[RuleVerdict, ...]
    rules: tuple[str, ...]  # asked
    detected_rules: tuple[str, ...]
    thumbnail_uri: str | None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> StoredWindow:
        return cls(
            window_id=row["window_id"],
            camera_id=row["camera"],
            start_ms=row["start_ms"],
            end_ms=row["end_ms"],
            caption=row["caption"],
            unchanged_since=row["unchanged_since"],
            verdicts=tuple(RuleVerdict.from_json(raw) for raw in json.loads(row["verdicts"])),
            rules=tuple(row["rules"]),
            detected_rules=tuple(row["detected_rules"]),
            thumbnail_uri=row["thumbnail"],
        )


DETECTION_COLUMNS = ["window_id", "camera", "start_ms", "end_ms", "detected_rules"]
# Newest first, ties in a fixed order: LanceDB sorts and keeps the top rows itself.
NEWEST_FIRST = [
    ColumnOrdering(column_name="start_ms", ascending=False),
    ColumnOrdering(column_name="camera"),
]


@dataclass(frozen=True, slots=True)
class Detection:
    """A window where at least one rule was detected, without its caption and verdicts."""

    window_id: str
    camera_id: str
    start_ms: int
    end_ms: int
    detected_rules: tuple[str, ...]

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Detection:
        return cls(
            row["window_id"], row["camera"], row["start_ms"], row["end_ms"],
            tuple(row["detected_rules"]),
        )  # fmt: skip


CAPTION_COLUMNS = ["window_id", "camera", "start_ms", "end_ms", "caption", "detected_rules"]


@dataclass(frozen=True, slots=True)
class Caption:
    """A captioned window, without its verdicts and picture."""

    window_id: str
    camera_id: str
    start_ms: int
    end_ms: int
    caption: str
    detected_rules: tuple[str, ...]

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Caption:
        return cls(
            row["window_id"], row["camera"], row["start_ms"], row["end_ms"], row["caption"],
            tuple(row["detected_rules"]),
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class WindowFilter:
    camera: str | None = None
    rule: str | None = None  # windows where this rule was detected
    since_ms: int | None = None  # start_ms >= since_ms
    until_ms: int | None = None  # start_ms < until_ms


def where_sql(where: WindowFilter | None, *, captioned: bool = False) -> str | None:
    """The filter as LanceDB SQL; ``captioned`` leaves out windows skipped as still."""
    where = where or WindowFilter()
    clauses = []
    if where.camera is not None:
        clauses.append(f"camera = {sql_string(where.camera)}")
    if where.rule is not None:
        clauses.append(f"array_has(detected_rules, {sql_string(where.rule)})")
    if where.since_ms is not None:
        clauses.append(f"start_ms >= {int(where.since_ms)}")
    if where.until_ms is not None:
        clauses.append(f"start_ms < {int(where.until_ms)}")
    if captioned:
        clauses.append("caption != ''")
    return " AND ".join(clauses) or None


def sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def windows_schema(dim: int) -> pa.Schema:
    return pa.schema(
        [
            pa.field("window_id", pa.string(), nullable=False),
            pa.field("camera", pa.string(), nullable=False),
            pa.field("start_ms", pa.int64(), nullable=False),
            pa.field("end_ms", pa.int64(), nullable=False),
            pa.field("caption", pa.string(), nullable=False),
            pa.field("unchanged_since", pa.string()),
            pa.field("verdicts", pa.string(), nullable=False),
            pa.field("rules", pa.list_(pa.string()), nullable=False),
            pa.field("detected_rules", pa.list_(pa.string()), nullable=False),
            pa.field("thumbnail", pa.string()),
            pa.field("vector", pa.list_(pa.float32(), dim), nullable=False),
        ]
    )


def rows_table(rows: Sequence[WindowRow], dim: int) -> pa.Table:
    """One row per window id (the last given wins: a merge needs unique keys)."""
    unique = list({row.record.window_id: row for row in rows}.values())
    vectors = np.stack([row.vector for row in unique]).astype(np.float32, copy=False)
    if vectors.shape != (len(unique), dim) or not np.isfinite(vectors).all():
        raise ValueError(f"every vector must be {dim} finite floats")
    records = [row.record for row in unique]
    columns: dict[str, Any] = {
        "window_id": [record.window_id for record in records],
        "camera": [record.camera_id for record in records],
        "start_ms": [record.start_ms for record in records],
        "end_ms": [record.end_ms for record in records],
        "caption": [record.caption for record in records],
        "unchanged_since": [record.unchanged_since for record in records],
        "verdicts": [json.dumps([v.to_json() for v in record.verdicts]) for record in records],
        "rules": [[v.rule_id for v in record.verdicts] for record in records],
        "detected_rules": [
            [v.rule_id for v in record.verdicts if v.detected] for record in records
        ],
        "thumbnail": [row.thumbnail_uri for row in unique],
        "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), dim),
    }
    return pa.table(columns, schema=windows_schema(dim))


@dataclass(frozen=True, slots=True)
class TableStats:
    rows: int
    fragments: int  # files compaction merges: many small ones slow every read
    versions: int
    indexed_columns: tuple[str, ...]


class ArchiveStore:
    def __init__(self, table: AsyncTable, blobs: BlobStore, dim: int) -> None:
        self._table = table
        self.blobs = blobs
        self.dim = dim
        self._writing = asyncio.Lock()  # a compaction is never pre-empted by our own writes

    @classmethod
    async def open(
        cls, settings: ArchiveSettings, data_dir: Path, dim: int, *, writer: bool = True
    ) -> ArchiveStore:
        """Creates the table when missing; its thumbnails go to ``blobs``. Only a
        ``writer`` (the archiver) indexes a new table: readers opening it at the same
        time would race it for the same index."""
        uri = settings.resolved_uri(data_dir)
        blobs = await asyncio.to_thread(BlobStore.open, settings, data_dir)
        db = await connect(settings, data_dir)
        try:
            table = await db.create_table(TABLE, schema=windows_schema(dim), exist_ok=True)
        except ValueError as error:
            raise ArchiveSchemaError(
                f"the archive at {uri} holds another table than this Vigil writes "
                f"(vectors of {dim}): move it aside or set archive.uri"
            ) from error
        store = cls(table, blobs, dim)
        if writer and await table.count_rows() == 0:
            # A new table starts indexed: text search needs the caption index's analyser.
            await store.ensure_indexes()
        return store

    @classmethod
    async def open_existing(cls, settings: ArchiveSettings, data_dir: Path) -> ArchiveStore | None:
        """A reader's store without the embedding model (its size is the table's); None
        while no archiver has created the table."""
        db = await connect(settings, data_dir)
        try:
            table = await db.open_table(TABLE)
        except ValueError:
            return None
        blobs = await asyncio.to_thread(BlobStore.open, settings, data_dir)
        dim = (await table.schema()).field("vector").type.list_size
        return cls(table, blobs, dim)

    async def upsert_windows(self, rows: Sequence[WindowRow]) -> None:
        """Inserts new windows and replaces the rows of windows already there."""
        if not rows:
            return
        table = rows_table(rows, self.dim)
        merge = self._table.merge_insert("window_id")
        async with self._writing:
            await merge.when_matched_update_all().when_not_matched_insert_all().execute(table)

    async def window(self, window_id: str) -> StoredWindow | None:
        query = self._table.query().where(f"window_id = {sql_string(window_id)}")
        rows = await query.select(WINDOW_COLUMNS).limit(1).to_list()
        return StoredWindow.from_row(rows[0]) if rows else None

    async def count_windows(
        self, where: WindowFilter | None = None, *, captioned: bool = False
    ) -> int:
        return await self._table.count_rows(where_sql(where, captioned=captioned))

    async def vectors(self, window_ids: Sequence[str]) -> np.ndarray:
        """The caption vectors of these windows, in their order (n, dim); zeros for a
        window that is not there."""
        vectors = np.zeros((len(window_ids), self.dim), np.float32)
        if not window_ids:
            return vectors
        listed = ", ".join(sql_string(window_id) for window_id in window_ids)
        query = self._table.query().where(f"window_id IN ({listed})")
        table = await query.select(["window_id", "vector"]).to_arrow()
        found = dict(
            zip(
                table.column("window_id").to_pylist(),
                table.column("vector").to_pylist(),
                strict=True,
            )
        )
        for index, window_id in enumerate(window_ids):
            if window_id in found:
                vectors[index] = found[window_id]
        return vectors

    async def delete_windows_before(self, cutoff_ms: int) -> int:
        """Deletes the windows that ended before ``cutoff_ms`` and the thumbnails that no
        window left shows; the thumbnails first, so a failure leaves rows to retry, never
        files nobody lists."""
        predicate = f"end_ms < {int(cutoff_ms)}"
        # Still windows kept that may show the thumbnail of a window deleted here: they
        # start within SHARED_THUMBNAIL_MS of it.
        sharing = (
            f"end_ms >= {int(cutoff_ms)} AND start_ms < {int(cutoff_ms) + SHARED_THUMBNAIL_MS}"
            " AND unchanged_since IS NOT NULL"
        )
        async with self._writing:
            count = await self._table.count_rows(predicate)
            if count == 0:
                return 0
            thumbnails = await self._thumbnails(predicate) - await self._thumbnails(sharing)
            await asyncio.to_thread(self.blobs.delete, sorted(thumbnails))
            await self._table.delete(predicate)
        return count

    async def _thumbnails(self, predicate: str) -> set[str]:
        query = self._table.query().where(f"{predicate} AND thumbnail IS NOT NULL")
        column = (await query.select(["thumbnail"]).to_arrow()).column("thumbnail")
        return set(column.to_pylist())

    async def analysed_thumbnails(self, window_ids: Sequence[str]) -> dict[str, tuple[int, str]]:
        """The analysed windows among ``window_ids`` that have a thumbnail: window id ->
        (start_ms, thumbnail)."""
        if not window_ids:
            return {}
        listed = ", ".join(sql_string(window_id) for window_id in window_ids)
        query = self._table.query().where(
            f"window_id IN ({listed}) AND unchanged_since IS NULL AND thumbnail IS NOT NULL"
        )
        table = await query.select(["window_id", "start_ms", "thumbnail"]).to_arrow()
        return {row["window_id"]: (row["start_ms"], row["thumbnail"]) for row in table.to_pylist()}

    async def optimize(self, keep_versions_for: timedelta = KEEP_VERSIONS_FOR) -> None:
        """Compacts small files, folds new rows into the indexes and removes versions
        older than ``keep_versions_for``. This store's writes wait meanwhile; a write
        from elsewhere that commits first wins, and the compaction is tried again (a
        RuntimeError after WRITE_ATTEMPTS: try at the next period)."""
        await retry_on_conflict(
            lambda: self._table.optimize(cleanup_older_than=keep_versions_for),
            self._writing,
            OPTIMIZE_RETRY_S,
            "optimize",
        )

    async def ensure_indexes(self) -> None:
        """Creates the indexes that are missing (new rows reach them at ``optimize``)."""
        indexed = {config.columns[0] for config in await self._table.list_indices()}
        wanted: dict[str, IndexKind] = {**SCALAR_INDEXES, "caption": FTS()}
        if await self._table.count_rows() >= VECTOR_INDEX_MIN_ROWS:
            wanted["vector"] = HnswSq(distance_type="cosine")
        for column, config in wanted.items():
            if column not in indexed:
                log.info("archive: creating the %s index", column)
                async with self._writing:
                    await self._table.create_index(column, config=config)

    async def stats(self) -> TableStats:
        raw: Any = await self._table.stats()  # a dict at run time, whatever its annotation
        versions = await self._table.list_versions()  # type: ignore[no-untyped-call]
        indexes = await self._table.list_indices()
        return TableStats(
            rows=raw["num_rows"],
            fragments=raw["fragment_stats"]["num_fragments"],
            versions=len(versions),
            indexed_columns=tuple(sorted(config.columns[0] for config in indexes)),
        )

    async def text_search(
        self, text: str, where: WindowFilter | None, limit: int
    ) -> list[StoredWindow]:
        """Best BM25 matches of ``text`` in captions among the filtered windows."""
        query = self._table.query().nearest_to_text(text, columns="caption")
        return await _windows(query, where_sql(where, captioned=True), limit, "_score")

    async def vector_search(
        self, vector: np.ndarray, where: WindowFilter | None, limit: int
    ) -> list[StoredWindow]:
        """Nearest captions to ``vector`` by cosine among the filtered windows."""
        query = self._table.query().nearest_to(vector).column("vector").distance_type("cosine")
        return await _windows(query, where_sql(where, captioned=True), limit, "_distance")

    async def captioned_windows(
        self, where: WindowFilter | None, limit: int | None = None
    ) -> tuple[list[StoredWindow], np.ndarray]:
        """The filtered windows with a caption (every one, a full scan, unless ``limit``
        caps them: the newest ``limit``), and their vectors (n, dim)."""
        query = self._table.query()
        predicate = where_sql(where, captioned=True)
        if predicate:
            query = query.where(predicate)
        if limit is not None:
            query = query.order_by(NEWEST_FIRST).limit(limit)
        table = await query.select([*WINDOW_COLUMNS, "vector"]).to_arrow()
        flat = table.column("vector").combine_chunks().flatten().to_numpy()
        vectors = np.asarray(flat, np.float32).reshape(table.num_rows, self.dim)
        windows = [StoredWindow.from_row(row) for row in table.drop(["vector"]).to_pylist()]
        return windows, vectors

    async def still_until(self, window_ids: Sequence[str]) -> dict[str, int]:
        """Per window, the end of the last window skipped as still since it (windows
        with none left out): how long what it saw stayed. The still windows are reduced
        in Arrow, never a Python row each (a window has at most ``pipeline.heartbeat_s``
        of still windows after it)."""
        if not window_ids:
            return {}
        listed = ", ".join(sql_string(window_id) for window_id in window_ids)
        query = self._table.query().where(f"unchanged_since IN ({listed})")
        table = await query.select(["unchanged_since", "end_ms"]).to_arrow()
        last = table.group_by("unchanged_since").aggregate([("end_ms", "max")])
        return dict(
            zip(
                last.column("unchanged_since").to_pylist(),
                last.column("end_ms_max").to_pylist(),
                strict=True,
            )
        )

    async def captions(self, where: WindowFilter | None, limit: int) -> list[Caption]:
        """The filtered windows' captions (still windows have none), oldest first, at most
        ``limit``: a report's reading of what each camera usually shows."""
        query = self._table.query().where(where_sql(where, captioned=True) or "true")
        rows = await query.select(CAPTION_COLUMNS).limit(limit).to_list()
        captions = [Caption.from_row(row) for row in rows]
        captions.sort(key=lambda caption: (caption.start_ms, caption.camera_id))
        return captions

    async def windows_by_id(self, window_ids: Sequence[str]) -> list[StoredWindow]:
        if not window_ids:
            return []
        listed = ", ".join(sql_string(window_id) for window_id in window_ids)
        query = self._table.query().where(f"window_id IN ({listed})").select(WINDOW_COLUMNS)
        return [StoredWindow.from_row(row) for row in await query.to_list()]

    async def detections(self, where: WindowFilter | None, limit: int) -> list[Detection]:
        """The filtered windows where some rule was detected, at most ``limit`` of them,
        the newest first; LanceDB sorts and cuts, so at most ``limit`` rows are read
        into Python."""
        if limit < 1:
            return []
        clauses = [clause for clause in (where_sql(where),) if clause]
        predicate = " AND ".join([*clauses, "array_length(detected_rules) > 0"])
        query = self._table.query().where(predicate).select(DETECTION_COLUMNS)
        rows = await query.order_by(NEWEST_FIRST).limit(limit).to_list()
        return [Detection.from_row(row) for row in rows]


async def _windows(
    query: AsyncStandardQuery, predicate: str | None, limit: int, rank_column: str
) -> list[StoredWindow]:
    """Runs a ranked query with its filter applied before ranking (LanceDB's default)."""
    if predicate:
        query = query.where(predicate)
    rows = await query.select([*WINDOW_COLUMNS, rank_column]).limit(limit).to_list()
    return [StoredWindow.from_row(row) for row in rows]
