"""/v1/search: what the cameras saw, from the archive: hybrid search over the captions of
every analysed window (words and meaning), filtered by camera, detected rule and time
before ranking; and /v1/archive/windows/…: one archived window and its thumbnail.

A search reads at most ``limit`` (≤ 100) windows and alerts from each ranking, within a
time budget (``api.search_timeout_s``): over it the answer is 422 asking for a narrower
search. Thumbnails are read in a thread (on S3 a slow object never stalls the loop)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Annotated, TypeVar

from fastapi import APIRouter, HTTPException, Path, Query, Response
from pydantic import BaseModel

from agent.api.archived_windows import (
    ArchivedWindow,
    epoch_ms,
    oldest_frames_ms,
    open_archive,
    window_out,
)
from agent.api.deps import QuestionKey, ReadKey, State
from agent.api.errors import responses
from agent.api.state import ApiState
from agent.archive.alert_search import search_alerts
from agent.archive.embedder import Embedder
from agent.archive.search import WindowFilter, search_windows
from agent.pipeline.alert_records import AlertFilter, AlertRecord
from agent.pipeline.rules import RULE_ID_PATTERN
from streams.config import CAMERA_ID_PATTERN

router = APIRouter(tags=["search"], responses=responses(401, 403))
T = TypeVar("T")

WINDOW_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}:[0-9]{1,15}$"
WindowId = Annotated[str, Path(pattern=WINDOW_ID_PATTERN)]
EpochS = Annotated[float | None, Query(ge=0, le=1e11, description="Epoch seconds.")]


class SearchResults(BaseModel):
    query: str
    windows: list[ArchivedWindow]
    alerts: list[AlertRecord]  # alerts (open or archived) whose description or summary match


@router.get("/v1/search", responses=responses(422, 429, 503, 504))
async def search(
    state: State,
    _: QuestionKey,
    q: Annotated[str, Query(min_length=1, max_length=500, description="What to look for.")],
    camera: Annotated[str | None, Query(pattern=CAMERA_ID_PATTERN)] = None,
    rule: Annotated[
        str | None, Query(pattern=RULE_ID_PATTERN, description="Windows that detected it.")
    ] = None,
    since: EpochS = None,
    until: EpochS = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> SearchResults:
    store, embedder = await open_archive(state)  # outside the budget: opened once
    where = WindowFilter(camera, rule, epoch_ms(since), epoch_ms(until))
    try:
        hits = await _within_budget(state, search_windows(store, embedder, q, where, limit))
    except ValueError as error:
        raise HTTPException(422, str(error)) from None
    buffered = await oldest_frames_ms(state, {hit.window.camera_id for hit in hits})
    windows = [window_out(hit.window, buffered, hit.score) for hit in hits]
    wanted = AlertFilter(camera=camera, rule=rule, since=since, until=until)
    alerts = await _within_budget(state, _matching_alerts(state, embedder, q, wanted, limit))
    return SearchResults(query=q, windows=windows, alerts=alerts)


async def _within_budget(state: ApiState, search: Awaitable[T]) -> T:
    """``search``'s result; 504 when it runs past ``api.search_timeout_s`` (as /v1/ask past
    its time limits)."""
    budget_s = state.api.search_timeout_s
    try:
        async with asyncio.timeout(budget_s):
            return await search
    except TimeoutError:
        raise HTTPException(
            504,
            f"the search ran past its time budget of {budget_s:g} s (api.search_timeout_s): "
            "narrow it with camera, rule, since or until",
        ) from None


async def _matching_alerts(
    state: ApiState, embedder: Embedder, text: str, wanted: AlertFilter, limit: int
) -> list[AlertRecord]:
    """Alerts of the rule (not windows that detected it) opened in the period: archived
    ones and those still in Redis, found before any archiver has run."""
    store = None if state.archive is None else await state.archive.alerts()
    return await search_alerts(state.client, state.keys, store, embedder, text, wanted, limit)


@router.get("/v1/archive/windows/{window_id}", responses=responses(404, 422, 503))
async def archived_window(state: State, _: ReadKey, window_id: WindowId) -> ArchivedWindow:
    store, _embedder = await open_archive(state)
    window = await store.window(window_id)
    if window is None:
        raise HTTPException(404, f"no window {window_id} in the archive")
    buffered = await oldest_frames_ms(state, {window.camera_id})
    return window_out(window, buffered)


@router.get(
    "/v1/archive/windows/{window_id}/thumbnail.jpg",
    response_class=Response,
    responses={**responses(404, 422, 503), 200: {"content": {"image/jpeg": {}}}},
)
async def thumbnail(state: State, _: ReadKey, window_id: WindowId) -> Response:
    store, _embedder = await open_archive(state)
    window = await store.window(window_id)
    uri = window.thumbnail_uri if window else None
    jpeg = await asyncio.to_thread(store.blobs.get, uri) if uri else None
    if jpeg is None:
        raise HTTPException(404, f"no thumbnail of window {window_id} in the archive")
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "max-age=86400"})
