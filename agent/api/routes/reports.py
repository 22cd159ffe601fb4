"""/v1/reports: shift reports made on a schedule or on request, their schedules, and a
printable page of each."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response

from agent.api.deps import AdminKey, QuestionKey, ReadKey, State
from agent.api.errors import responses
from agent.api.report_page import report_html
from agent.api.state import ApiState
from agent.engines import EngineContextError, EngineError
from agent.pipeline.cameras_store import CameraStore
from agent.reports.builder import ReportSources, build_report
from agent.reports.models import Report, ReportRequest
from agent.reports.schedules import SCHEDULE_ID_PATTERN, ReportSchedule, ScheduleStore
from agent.reports.store import ReportFilter, ReportStore
from streams.config import CAMERA_ID_PATTERN

router = APIRouter(prefix="/v1/reports", tags=["reports"], responses=responses(401, 403, 404))
ReportId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")]
ScheduleId = Annotated[str, Path(pattern=SCHEDULE_ID_PATTERN)]
PAGE_MAX = 200


@router.get("", responses=responses(422, 503))
async def list_reports(
    state: State,
    _: ReadKey,
    camera: Annotated[str | None, Query(pattern=CAMERA_ID_PATTERN)] = None,
    schedule: Annotated[str | None, Query(pattern=SCHEDULE_ID_PATTERN)] = None,
    since: Annotated[float | None, Query(ge=0, le=1e11)] = None,
    until: Annotated[float | None, Query(ge=0, le=1e11)] = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = 50,
) -> list[Report]:
    """The newest reports first (by the end of their period)."""
    wanted = ReportFilter(camera, schedule, since, until)
    return await (await _reports(state)).page(wanted, limit)


@router.post("", status_code=201, responses=responses(422, 429, 503, 504))
async def make_report(state: State, _: QuestionKey, request: ReportRequest) -> Report:
    """Makes a report now over the period (stored, not delivered): counts and timeline
    from the archive, a summary by the engine; at most ``api.report_timeout_s``."""
    cameras = request.cameras or [c.id for c in await CameraStore(state.client, state.keys).all()]
    sources = await _sources(state)
    report_id = f"rp_{uuid.uuid4().hex[:20]}"
    limit_s = state.api.report_timeout_s
    try:
        async with asyncio.timeout(limit_s):
            report = await build_report(sources, report_id, cameras, (request.since, request.until))
    except TimeoutError:
        raise HTTPException(504, f"the report took longer than {limit_s:g} s") from None
    except EngineContextError as error:
        raise HTTPException(422, str(error)) from None
    except EngineError as error:
        raise HTTPException(503, f"the engine failed: {error}") from None
    await (await _reports(state)).put(report)
    return report


@router.get("/schedules")
async def list_schedules(state: State, _: ReadKey) -> list[ReportSchedule]:
    return await ScheduleStore(state.client, state.keys).all()


@router.put("/schedules/{schedule_id}", responses=responses(422))
async def put_schedule(
    state: State, _: AdminKey, schedule_id: ScheduleId, schedule: ReportSchedule
) -> ReportSchedule:
    """Creates or replaces a schedule; the body's id must be the path's."""
    if schedule.id != schedule_id:
        raise HTTPException(422, f"the body's id {schedule.id!r} is not the path's")
    return await ScheduleStore(state.client, state.keys).put(schedule)


@router.delete("/schedules/{schedule_id}", status_code=204, responses=responses(422))
async def delete_schedule(state: State, _: AdminKey, schedule_id: ScheduleId) -> Response:
    if not await ScheduleStore(state.client, state.keys).delete(schedule_id):
        raise HTTPException(404, f"no report schedule {schedule_id}")
    return Response(status_code=204)


@router.get("/{report_id}", responses=responses(422, 503))
async def get_report(state: State, _: ReadKey, report_id: ReportId) -> Report:
    return await _report(state, report_id)


@router.get(
    "/{report_id}/print",
    response_class=Response,
    responses={**responses(422, 503), 200: {"content": {"text/html": {}}}},
)
async def print_report(state: State, _: ReadKey, report_id: ReportId) -> Response:
    """The report as a page to print: counts, timeline, summary, cited windows with
    their thumbnails inline."""
    report = await _report(state, report_id)
    html = report_html(report, await _thumbnails(state, report))
    return Response(html, media_type="text/html; charset=utf-8")


async def _report(state: ApiState, report_id: str) -> Report:
    report = await (await _reports(state)).get(report_id)
    if report is None:
        raise HTTPException(404, f"no report {report_id}")
    return report


async def _thumbnails(state: ApiState, report: Report) -> dict[str, bytes]:
    store = None if state.archive is None else await state.archive.windows()
    cited = [window.window for window in report.windows if window.cited]
    if store is None or not cited:
        return {}
    found: dict[str, bytes] = {}
    for window in await store.windows_by_id(cited):
        uri = window.thumbnail_uri
        jpeg = await asyncio.to_thread(store.blobs.get, uri) if uri else None
        if jpeg:
            found[window.window_id] = jpeg
    return found


async def _reports(state: ApiState) -> ReportStore:
    if state.archive is None:
        raise HTTPException(503, "this API has no archive configured")
    return await state.archive.reports()


async def _sources(state: ApiState) -> ReportSources:
    if state.archive is None:
        raise HTTPException(503, "this API has no archive configured")
    return ReportSources(
        state.client, state.keys, await state.archive.windows(),
        await state.archive.alerts(), state.engine,
    )  # fmt: skip
