"""Missed events: periods of a camera where a rule should have alerted and did not, as an
operator marked them, each with its context clip. The archive's LanceDB ``missed_events``
table, one row per mark."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
from lancedb.query import ColumnOrdering
from lancedb.table import AsyncTable
from pydantic import BaseModel

from agent.archive.settings import ArchiveSettings
from agent.archive.store import sql_string
from agent.archive.tables import connect, retry_on_conflict

TABLE = "missed_events"
WRITE_RETRY_S = 0.5
NEWEST_FIRST = [
    ColumnOrdering(column_name="start_ms", ascending=False),
    ColumnOrdering(column_name="missed_id", ascending=False),
]
SCHEMA = pa.schema(
    [
        pa.field("missed_id", pa.string(), nullable=False),
        pa.field("camera", pa.string(), nullable=False),
        pa.field("rule", pa.string(), nullable=False),
        pa.field("start_ms", pa.int64(), nullable=False),
        pa.field("document", pa.string(), nullable=False),  # the MissedEvent as JSON
    ]
)


class MissedEvent(BaseModel):
    id: str
    camera: str
    rule: str
    start: float  # the event, as the operator marked it (epoch s)
    end: float
    note: str
    by: str
    at: float
    clip: str | None  # its context clip among the archive's files
    clip_start: float | None  # the clip's first and last frame (epoch s)
    clip_end: float | None


@dataclass(frozen=True, slots=True)
class MissedFilter:
    camera: str | None = None
    rule: str | None = None
    since: float | None = None  # events starting at or after
    until: float | None = None  # events starting before


class MissedStore:
    def __init__(self, table: AsyncTable) -> None:
        self._table = table
        self._writing = asyncio.Lock()

    @classmethod
    async def open(cls, settings: ArchiveSettings, data_dir: Path) -> MissedStore:
        db = await connect(settings, data_dir)
        return cls(await db.create_table(TABLE, schema=SCHEMA, exist_ok=True))

    async def put(self, event: MissedEvent) -> None:
        row = pa.table(
            {
                "missed_id": [event.id],
                "camera": [event.camera],
                "rule": [event.rule],
                "start_ms": [round(event.start * 1000)],
                "document": [event.model_dump_json()],
            },
            schema=SCHEMA,
        )

        async def merge() -> None:
            builder = self._table.merge_insert("missed_id").when_matched_update_all()
            await builder.when_not_matched_insert_all().execute(row)

        await retry_on_conflict(merge, self._writing, WRITE_RETRY_S, f"missed event {event.id}")

    async def page(self, wanted: MissedFilter, limit: int) -> list[MissedEvent]:
        """The newest ``limit`` missed events ``wanted`` selects, by when they started."""
        query = self._table.query().order_by(NEWEST_FIRST)
        clauses = _clauses(wanted)
        if clauses:
            query = query.where(" AND ".join(clauses))
        rows = await query.select(["document", "start_ms", "missed_id"]).limit(limit).to_list()
        return [MissedEvent.model_validate_json(row["document"]) for row in rows]


def _clauses(wanted: MissedFilter) -> list[str]:
    clauses = []
    if wanted.camera is not None:
        clauses.append(f"camera = {sql_string(wanted.camera)}")
    if wanted.rule is not None:
        clauses.append(f"rule = {sql_string(wanted.rule)}")
    if wanted.since is not None:
        clauses.append(f"start_ms >= {round(wanted.since * 1000)}")
    if wanted.until is not None:
        clauses.append(f"start_ms < {round(wanted.until * 1000)}")
    return clauses
