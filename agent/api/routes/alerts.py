"""/v1/alerts: filtered pages, one alert with its verdicts and summary, evidence,
acknowledge, feedback.

Redis answers for open and recent alerts, the archive for those past the hot retention:
pages merge both, and one alert, its evidence clip, its acknowledgement and feedback are
looked for in Redis first, then in the archive.
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any, cast

import redis.asyncio as aioredis
from fastapi import APIRouter, HTTPException, Path, Query, Response
from pydantic import BaseModel

from agent.api.clips import encode_clip
from agent.api.deps import AdminKey, Limits, ReadKey, State
from agent.api.errors import responses
from agent.api.state import ApiState
from agent.archive.alert_pages import page_alerts
from agent.archive.alert_store import AlertStore, ArchivedAlert
from agent.pipeline.alert_feedback import FeedbackIn, feedback_of
from agent.pipeline.alert_records import (
    AlertFilter,
    AlertKey,
    AlertRecord,
    alert_windows,
    read_alert,
)
from agent.pipeline.clip_pages import evidence_pages
from agent.pipeline.feedback import announce_archived_feedback, give_feedback_in_redis
from agent.pipeline.rules import Severity
from streams.bus.keys import Keys
from streams.config import CAMERA_ID_PATTERN
from streams.picture.mp4 import VideoError

router = APIRouter(prefix="/v1/alerts", tags=["alerts"], responses=responses(401, 403, 404))
AlertId = Annotated[str, Path(pattern=r"^al_[0-9a-f]{1,64}$")]
CURSOR_PATTERN = r"^\d{1,15}-[0-9a-f]{1,64}$"  # opened ms and id digest of the last alert


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
    """Alerts newest first, recent and archived; pass ``next_cursor`` back as ``cursor``
    for the next page."""
    wanted = AlertFilter(
        camera, rule, severity.value if severity else None, alert_state, since, until
    )
    limit = min(limit, state.api.page_max)
    before = None if cursor is None else AlertKey.parse(cursor)
    archive = await _archived_alerts(state)
    items, after = await page_alerts(state.client, state.keys, archive, wanted, limit, before)
    return AlertPage(items=items, next_cursor=None if after is None else after.cursor())


async def _archived_alerts(state: ApiState) -> AlertStore | None:
    return None if state.archive is None else await state.archive.alerts()


async def _archived(state: ApiState, alert_id: str) -> ArchivedAlert:
    archive = await _archived_alerts(state)
    archived = None if archive is None else await archive.alert(alert_id)
    if archived is None:
        raise HTTPException(404, f"no alert {alert_id}")
    return archived


@router.get("/{alert_id}", responses=responses(422))
async def alert_detail(state: State, _: ReadKey, alert_id: AlertId) -> AlertDetail:
    alert = await read_alert(state.client, state.keys, alert_id)
    if alert is not None:
        verdicts = await alert_windows(state.client, state.keys, alert_id)
    else:
        archived = await _archived(state, alert_id)
        alert, verdicts = archived.record, archived.windows
    base = state.api.base_url()
    links = {
        "self": f"{base}/v1/alerts/{alert_id}",
        "evidence": f"{base}/v1/alerts/{alert_id}/evidence.mp4",
    }
    if alert.context_clip:
        links["context"] = f"{base}/v1/alerts/{alert_id}/context.mp4"
    return AlertDetail(**alert.model_dump(), verdicts=verdicts, links=links)


@router.get(
    "/{alert_id}/evidence.mp4",
    response_class=Response,
    responses={**responses(422, 429), 200: {"content": {"video/mp4": {}}}},
)
async def evidence_mp4(state: State, _: ReadKey, limits: Limits, alert_id: AlertId) -> Response:
    """The alert's evidence clip: encoded from its frames while Redis holds them
    (``api.encodes_max`` at once, 429 beyond), else the archived MP4."""
    alert = await read_alert(state.client, state.keys, alert_id)
    if alert is None:
        return await _archived_clip(state, alert_id)
    first_s = alert.evidence_clip_start or alert.onset_at or alert.opened_at
    pages = evidence_pages(state.client, state.keys, alert_id, first_s, state.ingest.fps)
    try:
        video = await encode_clip(limits, pages)
    except VideoError as error:
        raise HTTPException(404, str(error)) from None
    if video is None:
        raise HTTPException(404, f"alert {alert_id} has no evidence frames")
    return Response(video, media_type="video/mp4")


async def _archived_clip(state: ApiState, alert_id: str) -> Response:
    archived = await _archived(state, alert_id)
    archive = cast(AlertStore, await _archived_alerts(state))
    uri = archived.clip_uri
    video = await asyncio.to_thread(archive.blobs.get, uri) if uri else None
    if video is None:
        raise HTTPException(404, f"alert {alert_id} has no evidence clip in the archive")
    return Response(video, media_type="video/mp4", headers={"Cache-Control": "max-age=86400"})


@router.get(
    "/{alert_id}/context.mp4",
    response_class=Response,
    responses={**responses(422), 200: {"content": {"video/mp4": {}}}},
)
async def context_mp4(state: State, _: ReadKey, alert_id: AlertId) -> Response:
    """The footage around the alert that the archive keeps for feedback (from
    ``eval.context_before_s`` before its onset to ``eval.context_after_s`` after it was
    last seen); 404 until the alert is archived, or when its frames had gone."""
    alert = await read_alert(state.client, state.keys, alert_id)
    record = alert if alert is not None else (await _archived(state, alert_id)).record
    if state.archive is None or record.context_clip is None:
        raise HTTPException(404, f"alert {alert_id} has no context clip (yet)")
    blobs = await state.archive.blobs()
    video = await asyncio.to_thread(blobs.get, record.context_clip)
    if video is None:
        raise HTTPException(404, f"the context clip of alert {alert_id} is gone")
    return Response(video, media_type="video/mp4", headers={"Cache-Control": "max-age=86400"})


@router.post("/{alert_id}/acknowledge", responses=responses(422))
async def acknowledge(state: State, key: AdminKey, alert_id: AlertId) -> AlertRecord:
    """Marks the alert as seen by a person, in Redis or in the archive; acknowledging
    again changes nothing."""
    now = time.time()
    fields = {
        "acknowledged": "1",
        "acknowledged_at": f"{now:.3f}",
        "acknowledged_by": key.name,
    }
    if await _acknowledge_in_redis(state.client, state.keys, alert_id, fields):
        alert = await read_alert(state.client, state.keys, alert_id)
        if alert is not None:
            return alert
    archive = await _archived_alerts(state)
    record = None if archive is None else await archive.acknowledge(alert_id, now, key.name)
    if record is None:
        raise HTTPException(404, f"no alert {alert_id}")
    return record


@router.post("/{alert_id}/feedback", responses=responses(422))
async def feedback(
    state: State, key: AdminKey, alert_id: AlertId, given: FeedbackIn
) -> AlertRecord:
    """Says whether the alert was right: ``confirmed`` (with the event's true ``onset`` and
    ``end`` where the alert had them wrong) or ``false_alarm``; giving it again replaces it.
    Sends ``alert.feedback`` to webhooks and MQTT."""
    stored = feedback_of(given, key.name)
    record = await give_feedback_in_redis(state.client, state.keys, alert_id, stored)
    if record is not None:
        return record
    archive = await _archived_alerts(state)
    changed = None if archive is None else await archive.give_feedback(alert_id, stored)
    if changed is None:
        raise HTTPException(404, f"no alert {alert_id}")
    before, after = changed
    await announce_archived_feedback(state.client, state.keys, before, stored)
    return after


async def _acknowledge_in_redis(
    client: aioredis.Redis, keys: Keys, alert_id: str, fields: dict[str, str]
) -> bool:
    """False when Redis does not hold the alert. A closed alert is queued to be archived
    again, so its archived copy shows the acknowledgement."""
    key = keys.alert(alert_id)
    async with client.pipeline(transaction=True) as pipe:
        while True:
            try:
                await pipe.watch(key)
                held, acked, closed_at = await pipe.hmget(key, ["id", "acknowledged", "closed_at"])
                if held is None or acked == b"1":
                    await pipe.unwatch()  # type: ignore[no-untyped-call]
                    return held is not None
                pipe.multi()  # type: ignore[no-untyped-call]
                pipe.hset(key, mapping=fields)  # type: ignore[arg-type]
                if closed_at:
                    closed = {alert_id: round(float(closed_at) * 1000)}
                    pipe.zadd(keys.alerts_to_archive, closed, nx=True)
                await pipe.execute()
                return True
            except aioredis.WatchError:
                continue
