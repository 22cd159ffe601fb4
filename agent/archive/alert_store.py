"""The archive's ``alerts`` table (LanceDB): one row per closed alert, keyed by its id, with
the full record, its windows, its summary (searchable by words and by meaning) and the
key of its evidence clip (an MP4 among the archive's files).

The archiver writes rows (upsert by id, so a retry never duplicates) and deletes those past
the archive's retention with their clips; the API reads them and acknowledges archived
alerts in place.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from lancedb.index import FTS, Bitmap, BTree
from lancedb.query import AsyncStandardQuery, ColumnOrdering
from lancedb.table import AsyncTable

from agent.archive.blobs import BlobStore
from agent.archive.search import rank_fusion_scores
from agent.archive.settings import ArchiveSettings
from agent.archive.store import KEEP_VERSIONS_FOR, ArchiveSchemaError, sql_string
from agent.archive.tables import connect, retry_on_conflict
from agent.pipeline.alert_feedback import AlertFeedback
from agent.pipeline.alert_records import AlertFilter, AlertKey, AlertRecord

TABLE = "alerts"
WRITE_RETRY_S = 0.5
INDEXES: dict[str, FTS | Bitmap | BTree] = {
    "alert_id": BTree(),
    "camera": Bitmap(),
    "rule": Bitmap(),
    "opened_ms": BTree(),
    "closed_ms": BTree(),
    "text": FTS(),
}
COLUMNS = ["alert_id", "record", "windows", "clip"]
NEWEST_FIRST = [
    ColumnOrdering(column_name="opened_ms", ascending=False),
    ColumnOrdering(column_name="alert_id", ascending=False),
]


def alerts_schema(dim: int) -> pa.Schema:
    return pa.schema(
        [
            pa.field("alert_id", pa.string(), nullable=False),
            pa.field("camera", pa.string(), nullable=False),
            pa.field("rule", pa.string(), nullable=False),
            pa.field("severity", pa.string(), nullable=False),
            pa.field("acknowledged", pa.bool_(), nullable=False),
            pa.field("opened_ms", pa.int64(), nullable=False),
            pa.field("closed_ms", pa.int64(), nullable=False),
            pa.field("record", pa.string(), nullable=False),  # AlertRecord as JSON
            pa.field("windows", pa.string(), nullable=False),  # its verdicts, JSON list
            pa.field("text", pa.string(), nullable=False),  # description and summary
            pa.field("clip", pa.string()),  # blob key of the evidence MP4
            pa.field("vector", pa.list_(pa.float32(), dim), nullable=False),
        ]
    )


@dataclass(frozen=True, slots=True)
class AlertRow:
    record: AlertRecord
    windows: list[Any]
    clip_uri: str | None
    vector: np.ndarray  # (dim,) float32, of ``alert_text``


@dataclass(frozen=True, slots=True)
class ArchivedAlert:
    record: AlertRecord
    windows: list[Any]
    clip_uri: str | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ArchivedAlert:
        record = AlertRecord.model_validate_json(row["record"])
        return cls(record, json.loads(row["windows"]), row["clip"])


def alert_text(record: AlertRecord) -> str:
    """What an alert is found by: what was seen, and the root cause."""
    parts = (record.description, record.last_description, record.summary)
    return "\n".join(dict.fromkeys(part for part in parts if part))


def clip_path(record: AlertRecord) -> str:
    """``alerts/<camera>/<yyyy-mm-dd>/<alert id>.mp4``, the day it opened in UTC."""
    if "/" in record.camera or record.camera in ("", ".", ".."):
        raise ValueError(f"camera id {record.camera!r} cannot name a folder")
    day = datetime.fromtimestamp(record.opened_at, tz=UTC).date().isoformat()
    return f"alerts/{record.camera}/{day}/{record.id}.mp4"


def rows_table(rows: Sequence[AlertRow], dim: int) -> pa.Table:
    """One row per alert id (the last given wins: a merge needs unique keys)."""
    unique = list({row.record.id: row for row in rows}.values())
    vectors = np.stack([row.vector for row in unique]).astype(np.float32, copy=False)
    if vectors.shape != (len(unique), dim) or not np.isfinite(vectors).all():
        raise ValueError(f"every vector must be {dim} finite floats")
    records = [row.record for row in unique]
    columns: dict[str, Any] = {
        "alert_id": [record.id for record in records],
        "camera": [record.camera for record in records],
        "rule": [record.rule for record in records],
        "severity": [record.severity for record in records],
        "acknowledged": [record.acknowledged for record in records],
        "opened_ms": [AlertKey.of(record).opened_ms for record in records],
        "closed_ms": [round((record.closed_at or record.opened_at) * 1000) for record in records],
        "record": [record.model_dump_json() for record in records],
        "windows": [json.dumps(row.windows) for row in unique],
        "text": [alert_text(record) for record in records],
        "clip": [row.clip_uri for row in unique],
        "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), dim),
    }
    return pa.table(columns, schema=alerts_schema(dim))


def where_sql(wanted: AlertFilter) -> list[str]:
    """The filter's clauses on archived alerts (every one of them is closed)."""
    clauses = []
    for column, value in (
        ("camera", wanted.camera),
        ("rule", wanted.rule),
        ("severity", wanted.severity),
    ):
        if value is not None:
            clauses.append(f"{column} = {sql_string(value)}")
    if wanted.since is not None:
        clauses.append(f"opened_ms >= {math.ceil(wanted.since * 1000)}")
    if wanted.until is not None:
        clauses.append(f"opened_ms < {math.ceil(wanted.until * 1000)}")
    if wanted.state == "open":
        clauses.append("false")
    return clauses


def below_sql(key: AlertKey) -> str:
    ms = int(key.opened_ms)
    return f"(opened_ms < {ms} OR (opened_ms = {ms} AND alert_id < {sql_string(key.alert_id)}))"


def at_or_above_sql(key: AlertKey) -> str:
    ms = int(key.opened_ms)
    return f"(opened_ms > {ms} OR (opened_ms = {ms} AND alert_id >= {sql_string(key.alert_id)}))"


class AlertStore:
    def __init__(self, table: AsyncTable, blobs: BlobStore, dim: int) -> None:
        self._table = table
        self.blobs = blobs
        self.dim = dim
        self._writing = asyncio.Lock()

    @classmethod
    async def open(
        cls, settings: ArchiveSettings, data_dir: Path, dim: int, blobs: BlobStore
    ) -> AlertStore:
        """The archiver's store: creates and indexes the table when missing."""
        db = await connect(settings, data_dir)
        try:
            table = await db.create_table(TABLE, schema=alerts_schema(dim), exist_ok=True)
        except ValueError as error:
            raise ArchiveSchemaError(
                f"the archive at {settings.resolved_uri(data_dir)} holds another alerts table "
                f"than this Vigil writes (vectors of {dim}): move it aside or set archive.uri"
            ) from error
        store = cls(table, blobs, dim)
        if await table.count_rows() == 0:
            await store.ensure_indexes()
        return store

    @classmethod
    async def open_existing(
        cls, settings: ArchiveSettings, data_dir: Path, blobs: BlobStore
    ) -> AlertStore | None:
        """A reader's store; None while no archiver has created the table."""
        db = await connect(settings, data_dir)
        try:
            table = await db.open_table(TABLE)
        except ValueError:
            return None
        vector_type = (await table.schema()).field("vector").type
        return cls(table, blobs, vector_type.list_size)

    async def upsert(self, rows: Sequence[AlertRow]) -> None:
        if not rows:
            return
        table = rows_table(rows, self.dim)

        async def merge() -> None:
            builder = self._table.merge_insert("alert_id").when_matched_update_all()
            await builder.when_not_matched_insert_all().execute(table)

        await self._retried(merge)  # the API may be acknowledging an archived alert

    async def alert(self, alert_id: str) -> ArchivedAlert | None:
        query = self._table.query().where(f"alert_id = {sql_string(alert_id)}")
        rows = await query.select(COLUMNS).limit(1).to_list()
        return ArchivedAlert.from_row(rows[0]) if rows else None

    async def clip_uris(self, alert_ids: Sequence[str]) -> dict[str, str]:
        """The evidence clips already archived of those alerts."""
        if not alert_ids:
            return {}
        listed = ", ".join(sql_string(alert_id) for alert_id in alert_ids)
        query = self._table.query().where(f"alert_id IN ({listed}) AND clip IS NOT NULL")
        rows = await query.select(["alert_id", "clip"]).to_list()
        return {row["alert_id"]: row["clip"] for row in rows}

    async def count(self) -> int:
        return await self._table.count_rows()

    async def page(
        self, wanted: AlertFilter, before: AlertKey | None, floor: AlertKey | None, limit: int
    ) -> list[AlertRecord]:
        """Up to ``limit`` archived alerts below ``before`` and at or above ``floor``,
        newest first."""
        clauses = where_sql(wanted)
        clauses += [below_sql(before)] if before is not None else []
        clauses += [at_or_above_sql(floor)] if floor is not None else []
        query = self._table.query().order_by(NEWEST_FIRST)
        if clauses:
            query = query.where(" AND ".join(clauses))
        rows = await query.select(["record", "opened_ms", "alert_id"]).limit(limit).to_list()
        return [AlertRecord.model_validate_json(row["record"]) for row in rows]

    async def search(
        self, text: str, vector: np.ndarray, wanted: AlertFilter, limit: int
    ) -> list[AlertRecord]:
        """The best ``limit`` filtered alerts for ``text``, by words (BM25 over descriptions
        and summaries) and by meaning, fused by reciprocal rank."""
        predicate = " AND ".join(where_sql(wanted)) or None
        by_words = self._table.query().nearest_to_text(text, columns="text")
        by_meaning = self._table.query().nearest_to(vector).column("vector")
        rankings = await asyncio.gather(
            _records(by_words, predicate, limit * 2, "_score"),
            _records(by_meaning.distance_type("cosine"), predicate, limit * 2, "_distance"),
        )
        return fuse(rankings, limit)

    async def acknowledge(self, alert_id: str, at_s: float, by: str) -> AlertRecord | None:
        """Marks an archived alert as seen (once: acknowledging again changes nothing)."""
        archived = await self.alert(alert_id)
        if archived is None or archived.record.acknowledged:
            return None if archived is None else archived.record
        record = archived.record.model_copy(
            update={"acknowledged": True, "acknowledged_at": round(at_s, 3), "acknowledged_by": by}
        )
        await self.replace_record(record)
        return record

    async def give_feedback(
        self, alert_id: str, feedback: AlertFeedback
    ) -> tuple[AlertRecord, AlertRecord] | None:
        """Stores feedback on an archived alert, replacing any earlier; (the record before,
        after), None when the archive does not hold the alert."""
        archived = await self.alert(alert_id)
        if archived is None:
            return None
        record = archived.record.model_copy(update={"feedback": feedback})
        await self.replace_record(record)
        return archived.record, record

    async def replace_record(self, record: AlertRecord) -> None:
        """Rewrites an archived alert's record (its windows and clip stay)."""
        updates = {"acknowledged": record.acknowledged, "record": record.model_dump_json()}
        where = f"alert_id = {sql_string(record.id)}"
        await self._retried(lambda: self._table.update(updates, where=where))

    async def delete_closed_before(self, cutoff_ms: int) -> int:
        """Deletes the alerts that closed before ``cutoff_ms`` and their clips (evidence
        and context); the clips
        first, so a failure leaves rows to retry, never files nobody lists."""
        predicate = f"closed_ms < {int(cutoff_ms)}"
        async with self._writing:
            count = await self._table.count_rows(predicate)
            if count == 0:
                return 0
            rows = await self._table.query().where(predicate).select(["clip", "record"]).to_list()
            clips = [row["clip"] for row in rows if row["clip"]]
            contexts = [AlertRecord.model_validate_json(row["record"]).context_clip for row in rows]
            clips += [clip for clip in contexts if clip]
            await asyncio.to_thread(self.blobs.delete, clips)
            await self._table.delete(predicate)
        return count

    async def optimize(self) -> None:
        await self._retried(lambda: self._table.optimize(cleanup_older_than=KEEP_VERSIONS_FOR))

    async def ensure_indexes(self) -> None:
        indexed = {config.columns[0] for config in await self._table.list_indices()}
        for column, config in INDEXES.items():
            if column not in indexed:
                async with self._writing:
                    await self._table.create_index(column, config=config)

    async def _retried(self, write: Callable[[], Awaitable[object]]) -> None:
        """A write the other process's commit may pre-empt (the archiver's and the API's)."""
        await retry_on_conflict(write, self._writing, WRITE_RETRY_S, "alerts write")


def fuse(rankings: Sequence[Sequence[AlertRecord]], limit: int) -> list[AlertRecord]:
    """Reciprocal rank fusion; ties go to the newer alert."""
    scores, records = rank_fusion_scores(rankings, lambda record: record.id)
    best = sorted(scores, key=lambda key: (-scores[key], -records[key].opened_at))[:limit]
    return [records[alert_id] for alert_id in best]


async def _records(
    query: AsyncStandardQuery, predicate: str | None, limit: int, rank_column: str
) -> list[AlertRecord]:
    """A ranked query with its filter applied before ranking (LanceDB's default)."""
    if predicate:
        query = query.where(predicate)
    rows = await query.select(["record", rank_column]).limit(limit).to_list()
    return [AlertRecord.model_validate_json(row["record"]) for row in rows]
