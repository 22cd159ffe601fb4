"""/v1/search: what the cameras saw, from the archive: hybrid search over the captions of
every analysed window (words and meaning), filtered by camera, detected rule and time
before ranking; and /v1/archive/windows/…: one archived window and its thumbnail."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import APIRouter, HTTPException, Path, Query, Response
from pydantic import BaseModel

from agent.api.deps import ReadKey, State
from agent.api.errors import responses
from agent.api.state import ApiState
from agent.archive.embedder import Embedder
from agent.archive.search import WindowFilter, search_windows
from agent.archive.store import ArchiveStore, StoredWindow
from agent.pipeline.rules import RULE_ID_PATTERN
from streams.config import CAMERA_ID_PATTERN

router = APIRouter(tags=["search"], responses=responses(401, 403))

WINDOW_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}:[0-9]{1,15}$"
WindowId = Annotated[str, Path(pattern=WINDOW_ID_PATTERN)]
EpochS = Annotated[float | None, Query(ge=0, le=1e11, description="Epoch seconds.")]


class ArchivedVerdict(BaseModel):
    rule: str
    detected: bool
    confidence: float
    description: str


class ArchivedWindow(BaseModel):
    id: str
    camera: str
    start: float  # epoch seconds
    end: float
    caption: str
    unchanged_since: str | None  # skipped as still: the window it is unchanged since
    verdicts: list[ArchivedVerdict]
    thumbnail_url: str | None
    clip_url: str | None  # while the window's frames are still in the buffer
    score: float | None = None  # search results: the fused rank score


class SearchResults(BaseModel):
    query: str
    windows: list[ArchivedWindow]


@router.get("/v1/search", responses=responses(422, 503))
async def search(
    state: State,
    _: ReadKey,
    q: Annotated[str, Query(min_length=1, max_length=500, description="What to look for.")],
    camera: Annotated[str | None, Query(pattern=CAMERA_ID_PATTERN)] = None,
    rule: Annotated[
        str | None, Query(pattern=RULE_ID_PATTERN, description="Windows that detected it.")
    ] = None,
    since: EpochS = None,
    until: EpochS = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> SearchResults:
    store, embedder = await _archive(state)
    where = WindowFilter(camera, rule, _ms(since), _ms(until))
    try:
        hits = await search_windows(store, embedder, q, where, limit)
    except ValueError as error:
        raise HTTPException(422, str(error)) from None
    buffered = await _oldest_frames_ms(state, {hit.window.camera_id for hit in hits})
    windows = [_window_out(hit.window, store, buffered, hit.score) for hit in hits]
    return SearchResults(query=q, windows=windows)


@router.get("/v1/archive/windows/{window_id}", responses=responses(404, 422, 503))
async def archived_window(state: State, _: ReadKey, window_id: WindowId) -> ArchivedWindow:
    store, _embedder = await _archive(state)
    window = await store.window(window_id)
    if window is None:
        raise HTTPException(404, f"no window {window_id} in the archive")
    buffered = await _oldest_frames_ms(state, {window.camera_id})
    return _window_out(window, store, buffered, None)


@router.get(
    "/v1/archive/windows/{window_id}/thumbnail.jpg",
    response_class=Response,
    responses={**responses(404, 422, 503), 200: {"content": {"image/jpeg": {}}}},
)
async def thumbnail(state: State, _: ReadKey, window_id: WindowId) -> Response:
    store, _embedder = await _archive(state)
    window = await store.window(window_id)
    jpeg = store.blobs.get(window.thumbnail_uri) if window and window.thumbnail_uri else None
    if jpeg is None:
        raise HTTPException(404, f"no thumbnail of window {window_id} in the archive")
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "max-age=86400"})


async def _archive(state: ApiState) -> tuple[ArchiveStore, Embedder]:
    if state.archive is None:
        raise HTTPException(503, "this API has no archive configured")
    return await state.archive.open()


def _ms(epoch_s: float | None) -> int | None:
    return None if epoch_s is None else round(epoch_s * 1000)


async def _oldest_frames_ms(state: ApiState, cameras: set[str]) -> dict[str, int]:
    """Per camera, the capture time of its oldest buffered frame (cameras with none left
    out): a window's clip can be cut while its start is not older."""
    ordered = sorted(cameras)
    pipe = state.client.pipeline(transaction=False)
    for camera_id in ordered:
        pipe.xrange(state.keys.frames(camera_id), count=1)
    replies = cast(list[list[tuple[bytes, object]]], await pipe.execute() if ordered else [])
    return {
        camera_id: int(reply[0][0].split(b"-")[0])
        for camera_id, reply in zip(ordered, replies, strict=True)
        if reply
    }


def _window_out(
    window: StoredWindow, store: ArchiveStore, oldest_ms: dict[str, int], score: float | None
) -> ArchivedWindow:
    camera = window.camera_id
    buffered = camera in oldest_ms and oldest_ms[camera] <= window.start_ms
    clip_url = (
        f"/v1/cameras/{camera}/clip.mp4?start={window.start_ms / 1000:.3f}"
        f"&end={window.end_ms / 1000:.3f}"
        if buffered
        else None
    )
    return ArchivedWindow(
        id=window.window_id,
        camera=camera,
        start=window.start_ms / 1000,
        end=window.end_ms / 1000,
        caption=window.caption,
        unchanged_since=window.unchanged_since,
        verdicts=[ArchivedVerdict.model_validate(verdict.to_json()) for verdict in window.verdicts],
        thumbnail_url=(
            f"/v1/archive/windows/{window.window_id}/thumbnail.jpg"
            if window.thumbnail_uri
            else None
        ),
        clip_url=clip_url,
        score=score,
    )
