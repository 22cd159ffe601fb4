"""Reports in the archive: the LanceDB ``reports`` table, one row per report id (a
scheduled report's id is its schedule and period, so building it again replaces it)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
from lancedb.query import ColumnOrdering
from lancedb.table import AsyncTable

from agent.archive.settings import ArchiveSettings
from agent.archive.store import sql_string
from agent.archive.tables import connect, retry_on_conflict
from agent.reports.models import Report

TABLE = "reports"
WRITE_RETRY_S = 0.5
NEWEST_FIRST = [
    ColumnOrdering(column_name="until_ms", ascending=False),
    ColumnOrdering(column_name="report_id", ascending=False),
]
SCHEMA = pa.schema(
    [
        pa.field("report_id", pa.string(), nullable=False),
        pa.field("schedule", pa.string()),
        pa.field("cameras", pa.list_(pa.string()), nullable=False),
        pa.field("since_ms", pa.int64(), nullable=False),
        pa.field("until_ms", pa.int64(), nullable=False),
        pa.field("created_ms", pa.int64(), nullable=False),
        pa.field("document", pa.string(), nullable=False),  # the Report as JSON
    ]
)


@dataclass(frozen=True, slots=True)
class ReportFilter:
    camera: str | None = None  # reports that cover it
    schedule: str | None = None
    since: float | None = None  # reports whose period ends after this
    until: float | None = None  # reports whose period ends before this


class ReportStore:
    def __init__(self, table: AsyncTable) -> None:
        self._table = table
        self._writing = asyncio.Lock()

    @classmethod
    async def open(cls, settings: ArchiveSettings, data_dir: Path) -> ReportStore:
        db = await connect(settings, data_dir)
        return cls(await db.create_table(TABLE, schema=SCHEMA, exist_ok=True))

    async def put(self, report: Report) -> None:
        row = pa.table(
            {
                "report_id": [report.id],
                "schedule": [report.schedule],
                "cameras": [report.cameras],
                "since_ms": [round(report.since * 1000)],
                "until_ms": [round(report.until * 1000)],
                "created_ms": [round(report.created_at * 1000)],
                "document": [report.model_dump_json()],
            },
            schema=SCHEMA,
        )

        async def merge() -> None:
            builder = self._table.merge_insert("report_id").when_matched_update_all()
            await builder.when_not_matched_insert_all().execute(row)

        await retry_on_conflict(merge, self._writing, WRITE_RETRY_S, f"report {report.id}")

    async def get(self, report_id: str) -> Report | None:
        query = self._table.query().where(f"report_id = {sql_string(report_id)}")
        rows = await query.select(["document"]).limit(1).to_list()
        return Report.model_validate_json(rows[0]["document"]) if rows else None

    async def page(self, wanted: ReportFilter, limit: int) -> list[Report]:
        """The newest ``limit`` reports ``wanted`` selects, by the end of their period."""
        query = self._table.query().order_by(NEWEST_FIRST)
        clauses = _clauses(wanted)
        if clauses:
            query = query.where(" AND ".join(clauses))
        rows = await query.select(["document", "until_ms", "report_id"]).limit(limit).to_list()
        return [Report.model_validate_json(row["document"]) for row in rows]


def _clauses(wanted: ReportFilter) -> list[str]:
    clauses = []
    if wanted.camera is not None:
        camera = sql_string(wanted.camera)
        clauses.append(f"(array_has(cameras, {camera}) OR array_length(cameras) = 0)")
    if wanted.schedule is not None:
        clauses.append(f"schedule = {sql_string(wanted.schedule)}")
    if wanted.since is not None:
        clauses.append(f"until_ms > {round(wanted.since * 1000)}")
    if wanted.until is not None:
        clauses.append(f"until_ms <= {round(wanted.until * 1000)}")
    return clauses
