"""Archived windows as the API returns them (search results, history answers), and the
API's lazily opened archive."""

from __future__ import annotations

from typing import cast

from fastapi import HTTPException
from pydantic import BaseModel

from agent.api.state import ApiState
from agent.archive.embedder import Embedder
from agent.archive.store import ArchiveStore, StoredWindow


class ArchivedVerdict(BaseModel):
    rule: str
    detected: bool
    confidence: float
    description: str
    # "unparsed": the model's answer for the window could not be read; nothing detected.
    status: str = "answered"


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


async def open_archive(state: ApiState) -> tuple[ArchiveStore, Embedder]:
    if state.archive is None:
        raise HTTPException(503, "this API has no archive configured")
    return await state.archive.open()


def epoch_ms(epoch_s: float | None) -> int | None:
    return None if epoch_s is None else round(epoch_s * 1000)


async def oldest_frames_ms(state: ApiState, cameras: set[str]) -> dict[str, int]:
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


def window_out(
    window: StoredWindow, oldest_ms: dict[str, int], score: float | None = None
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
