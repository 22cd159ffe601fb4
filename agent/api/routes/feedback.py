"""/v1/feedback: how each rule does by what operators said of its alerts, and the events
it missed, which operators mark while the camera's frames are still buffered."""

from __future__ import annotations

import time
import uuid
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field, model_validator

from agent.api.deps import AdminKey, ReadKey, State
from agent.api.errors import responses
from agent.api.feedback_stats import FeedbackStats, judged_period, tally
from agent.api.state import ApiState
from agent.archive.context_clips import keep_context_clip
from agent.archive.missed_store import MissedEvent, MissedFilter, MissedStore
from agent.pipeline.alert_feedback import EPOCH_MAX, MISSED, NOTE_MAX
from agent.pipeline.alert_records import AlertFilter
from agent.pipeline.cameras_store import CameraStore
from agent.pipeline.feedback import count_field
from agent.pipeline.rules import RULE_ID_PATTERN
from agent.pipeline.rules_store import RuleStore
from streams.config import CAMERA_ID_PATTERN
from streams.picture.mp4 import VideoError

router = APIRouter(prefix="/v1/feedback", tags=["feedback"], responses=responses(401, 403))
PAGE_MAX = 1000
DEFAULT_PERIOD_S = 7 * 86_400.0
Epoch = Annotated[float, Field(ge=0, le=EPOCH_MAX)]


class MissedIn(BaseModel):
    """A period of a camera where a rule should have alerted."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    camera: Annotated[str, Field(pattern=CAMERA_ID_PATTERN)]
    rule: Annotated[str, Field(pattern=RULE_ID_PATTERN)]
    start: Epoch
    end: Epoch
    note: Annotated[str, Field(max_length=NOTE_MAX)] = ""

    @model_validator(mode="after")
    def _ordered(self) -> MissedIn:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class MissedPage(BaseModel):
    items: list[MissedEvent]


@router.get("/stats", responses=responses(422))
async def stats(
    state: State,
    _: ReadKey,
    since: Annotated[float | None, Query(ge=0, le=EPOCH_MAX)] = None,
    until: Annotated[float | None, Query(ge=0, le=EPOCH_MAX)] = None,
    camera: Annotated[str | None, Query(pattern=CAMERA_ID_PATTERN)] = None,
    rule: Annotated[str | None, Query(pattern=RULE_ID_PATTERN)] = None,
) -> FeedbackStats:
    """Per rule and camera over the period (default: the last 7 days): alerts opened,
    confirmed, false alarms, missed events, and precision and recall where known."""
    end = time.time() if until is None else until
    start = end - DEFAULT_PERIOD_S if since is None else since
    if end <= start:
        raise HTTPException(422, "until must be after since")
    archive = None if state.archive is None else await state.archive.alerts()
    wanted = AlertFilter(camera=camera, rule=rule, since=start, until=end)
    found = await judged_period(state.client, state.keys, archive, wanted)
    missed = await _missed(state, MissedFilter(camera, rule, start, end), PAGE_MAX)
    return FeedbackStats(
        since=start,
        until=end,
        rows=tally(found.alerts, missed),
        alerts_looked_at=len(found.alerts),
        truncated=found.truncated,
    )


@router.post("/missed", status_code=201, responses=responses(404, 409, 422, 503))
async def mark_missed(state: State, key: AdminKey, given: MissedIn) -> MissedEvent:
    """Marks a period where the rule should have alerted on the camera, and keeps its
    footage (``eval.context_before_s`` before to ``eval.context_after_s`` after, as far as
    it has happened) as a context clip; 409 when the buffer no longer holds its start."""
    await _check_rule_on_camera(state, given.camera, given.rule)
    if state.archive is None:
        raise HTTPException(503, "no archive is configured to keep the footage")
    start, end = state.eval.bounds(given.start, given.end)
    if given.end - given.start > state.eval.context_max_s:
        raise HTTPException(422, f"an event is at most {state.eval.context_max_s:g} s here")
    event_id = f"ms_{uuid.uuid4().hex[:20]}"
    blobs = await state.archive.blobs()
    bounds = (start, min(end, time.time()))
    try:
        clip = await keep_context_clip(
            state.client, state.keys, blobs, given.camera, event_id, bounds, state.ingest.fps
        )
    except VideoError as error:
        raise HTTPException(409, f"the buffered frames cannot be encoded: {error}") from None
    if clip is None or clip.start > given.start:
        raise HTTPException(409, "the camera's buffer no longer holds the start of that period")
    event = MissedEvent(
        id=event_id, camera=given.camera, rule=given.rule, start=given.start, end=given.end,
        note=given.note, by=key.name, at=round(time.time(), 3), clip=clip.uri,
        clip_start=clip.start, clip_end=clip.end,
    )  # fmt: skip
    await (await state.archive.missed()).put(event)
    await state.client.hincrby(
        state.keys.feedback_counts, count_field(given.rule, given.camera, MISSED), 1
    )
    return event


@router.get("/missed", responses=responses(422))
async def list_missed(
    state: State,
    _: ReadKey,
    camera: Annotated[str | None, Query(pattern=CAMERA_ID_PATTERN)] = None,
    rule: Annotated[str | None, Query(pattern=RULE_ID_PATTERN)] = None,
    since: Annotated[float | None, Query(ge=0, le=EPOCH_MAX)] = None,
    until: Annotated[float | None, Query(ge=0, le=EPOCH_MAX)] = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = 100,
) -> MissedPage:
    """Missed events, the latest start first."""
    return MissedPage(items=await _missed(state, MissedFilter(camera, rule, since, until), limit))


async def _missed(state: ApiState, wanted: MissedFilter, limit: int) -> list[MissedEvent]:
    if state.archive is None:
        return []
    store: MissedStore = await state.archive.missed()
    return await store.page(wanted, limit)


async def _check_rule_on_camera(state: ApiState, camera_id: str, rule_id: str) -> None:
    if await CameraStore(state.client, state.keys).get(camera_id) is None:
        raise HTTPException(404, f"no camera {camera_id}")
    rule = await RuleStore(state.client, state.keys).get(rule_id)
    if rule is None or not rule.covers(camera_id):
        raise HTTPException(404, f"no rule {rule_id} on camera {camera_id}")
