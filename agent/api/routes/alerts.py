"""/v1/alerts: filtered pages, one alert with its verdicts and summary, evidence, acknowledge."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any, cast

from fastapi import APIRouter, HTTPException, Path, Query, Response
from pydantic import BaseModel

from agent.api.deps import AdminKey, ReadKey, State
from agent.api.errors import responses
from agent.api.video import VideoError, encode_mp4
from agent.pipeline.alert_records import (
    AlertFilter,
    AlertRecord,
    alert_windows,
    list_alerts,
    read_alert,
)
from agent.pipeline.rules import Severity
from streams.config import CAMERA_ID_PATTERN

router = APIRouter(prefix="/v1/alerts", tags=["alerts"], responses=responses(401, 403, 404))
AlertId = Annotated[str, Path(pattern=r"^al_[0-9a-f]{1,64}$")]
CURSOR_PATTERN = r"^\d{1,19}-\d{1,19}$"  # below 2**64: a valid stream id


class AlertPage(BaseModel):
    items: list[AlertRecord]
    next_cursor: str | None


class AlertDetail(AlertRecord):
    verdicts: list[dict[str, Any]]
    links: dict[str, str]


@router.get("", responses=responses(422))
async def alerts(
    state: State,
    _: ReadKey,
    camera: Annotated[str | None, Query(pattern=CAMERA_ID_PATTERN)] = None,
    rule: Annotated[str | None, Query(max_length=64)] = None,
    severity: Severity | None = None,
    alert_state: Annotated[str | None, Query(alias="state", pattern="^(open|closed)$")] = None,
    since: Annotated[
        float | None, Query(ge=0, le=1e11, description="Opened at or after (epoch s).")
    ] = None,
    until: Annotated[
        float | None, Query(ge=0, le=1e11, description="Opened before (epoch s).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    cursor: Annotated[str | None, Query(pattern=CURSOR_PATTERN)] = None,
) -> AlertPage:
    """Alerts newest first; pass ``next_cursor`` back as ``cursor`` for the next page."""
    wanted = AlertFilter(
        camera, rule, severity.value if severity else None, alert_state, since, until
    )
    limit = min(limit, state.api.page_max)
    items, next_cursor = await list_alerts(state.client, state.keys, wanted, limit, cursor)
    return AlertPage(items=items, next_cursor=next_cursor)


async def _alert(state: State, alert_id: str) -> AlertRecord:
    alert = await read_alert(state.client, state.keys, alert_id)
    if alert is None:
        raise HTTPException(404, f"no alert {alert_id}")
    return alert


@router.get("/{alert_id}", responses=responses(422))
async def alert_detail(state: State, _: ReadKey, alert_id: AlertId) -> AlertDetail:
    alert = await _alert(state, alert_id)
    verdicts = await alert_windows(state.client, state.keys, alert_id)
    base = state.api.base_url()
    links = {
        "self": f"{base}/v1/alerts/{alert_id}",
        "evidence": f"{base}/v1/alerts/{alert_id}/evidence.mp4",
    }
    return AlertDetail(**alert.model_dump(), verdicts=verdicts, links=links)


@router.get(
    "/{alert_id}/evidence.mp4",
    response_class=Response,
    responses={**responses(422), 200: {"content": {"video/mp4": {}}}},
)
async def evidence_mp4(state: State, _: ReadKey, alert_id: AlertId) -> Response:
    alert = await _alert(state, alert_id)
    jpegs = cast(list[bytes], await state.client.lrange(state.keys.evidence(alert_id), 0, -1))
    if not jpegs:
        raise HTTPException(404, f"alert {alert_id} has no evidence frames")
    fps = state.ingest.fps
    first_s = alert.evidence_clip_start or alert.onset_at or alert.opened_at
    times = [first_s + index / fps for index in range(len(jpegs))]
    try:
        video = await asyncio.to_thread(encode_mp4, jpegs, times)
    except VideoError as error:
        raise HTTPException(404, str(error)) from None
    return Response(video, media_type="video/mp4")


@router.post("/{alert_id}/acknowledge", responses=responses(422))
async def acknowledge(state: State, key: AdminKey, alert_id: AlertId) -> AlertRecord:
    """Marks the alert as seen by a person; acknowledging again changes nothing."""
    await _alert(state, alert_id)
    fields = {
        "acknowledged": "1",
        "acknowledged_at": f"{time.time():.3f}",
        "acknowledged_by": key.name,
    }
    async with state.client.pipeline(transaction=True) as pipe:
        await pipe.watch(state.keys.alert(alert_id))
        if await pipe.hget(state.keys.alert(alert_id), "acknowledged") != b"1":
            pipe.multi()  # type: ignore[no-untyped-call]
            pipe.hset(state.keys.alert(alert_id), mapping=fields)  # type: ignore[arg-type]
            await pipe.execute()
        else:
            await pipe.unwatch()  # type: ignore[no-untyped-call]
    return await _alert(state, alert_id)
