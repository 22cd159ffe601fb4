"""Context clips: the footage around an event, kept among the archive's files so that
feedback given hours later, and ``vigil eval --from-feedback``, still have it.

A clip runs from ``eval.context_before_s`` before the event's onset to
``eval.context_after_s`` after its end, at most ``eval.context_max_s`` long, encoded from
the camera's frame buffer a page at a time; frames the buffer no longer holds are simply
not in it, and the clip states the times of its first and last frame.

The clip is the picture without its timestamp strip, so that played again
(``vigil eval``) it is stamped like a live camera, with its zones where they were drawn;
and it is sampled again frame for frame. Ingest takes the first frame at or after each
tick of its rate, and skips a tick closer than half a period to the frame it took last:
a clip at exactly the sampling rate would lose every other frame whenever its phase
falls in the second half of the period. So each stored frame is shown twice, on the
grid and half a period later: one of the two falls after every tick, whatever the phase.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import redis.asyncio as aioredis

from agent.archive.blobs import BlobStore
from agent.pipeline.clip_pages import Frame, Pages, buffered_pages, encode_pages
from streams.bus.keys import Keys
from streams.picture.overlay import STRIP_HEIGHT


@dataclass(frozen=True, slots=True)
class ContextClip:
    uri: str  # among the archive's files
    start: float  # capture time of its first frame (epoch s)
    end: float  # capture time of its last frame


def context_path(camera_id: str, name: str, start_s: float) -> str:
    """``context/<camera>/<yyyy-mm-dd>/<name>.mp4``, the day it starts in UTC."""
    if "/" in camera_id or camera_id in ("", ".", "..") or "/" in name:
        raise ValueError(f"{camera_id!r}/{name!r} cannot name a file")
    day = datetime.fromtimestamp(start_s, tz=UTC).date().isoformat()
    return f"context/{camera_id}/{day}/{name}.mp4"


async def keep_context_clip(
    client: aioredis.Redis,
    keys: Keys,
    blobs: BlobStore,
    camera_id: str,
    name: str,
    bounds: tuple[float, float],
    fps: float,
) -> ContextClip | None:
    """Encodes the camera's buffered frames within ``bounds`` and stores the MP4 under
    ``name``; None when the buffer holds none of them. VideoError: an unreadable frame."""
    seen = _FrameTimes()
    pages = seen.follow(_on_the_grid(buffered_pages(client, keys, camera_id, *bounds), fps))
    video = await encode_pages(pages, crop_bottom=STRIP_HEIGHT)
    if video is None or seen.first is None or seen.last is None:
        return None
    uri = await asyncio.to_thread(blobs.put, context_path(camera_id, name, bounds[0]), video)
    return ContextClip(uri, round(seen.first, 3), round(seen.last, 3))


class _FrameTimes:
    """The capture times of the first and last frame that went by."""

    def __init__(self) -> None:
        self.first: float | None = None
        self.last: float | None = None

    async def follow(self, pages: Pages) -> AsyncIterator[list[Frame]]:
        async for page in pages:
            if page:
                self.first = page[0][1] if self.first is None else self.first
                self.last = page[-1][1]
            yield page


async def _on_the_grid(pages: Pages, fps: float) -> AsyncIterator[list[Frame]]:
    """Each frame at its whole period of ``fps`` from the first (gaps kept) and again half
    a period later."""
    first: float | None = None
    last_slot = -1
    async for page in pages:
        shown = []
        for jpeg, at_s in page:
            first = at_s if first is None else first
            slot = max(round((at_s - first) * fps), last_slot + 1)
            last_slot = slot
            shown += [(jpeg, first + slot / fps), (jpeg, first + (slot + 0.5) / fps)]
        yield shown
