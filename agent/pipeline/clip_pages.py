"""Frames read back from Redis a page at a time, and encoded into an MP4 as they come.

A clip of any length holds one page of JPEGs and the compressed video in memory: the API
serves clips this way, and the archiver keeps an alert's context clip this way.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import cast

import redis.asyncio as aioredis

from streams.bus.keys import Keys
from streams.picture.mp4 import Mp4Writer

PAGE_FRAMES = 32  # ~1 MB of JPEGs at 640x360
Frame = tuple[bytes, float]  # JPEG, capture time (epoch s)
Pages = AsyncIterator[list[Frame]]
Entries = list[tuple[bytes, dict[bytes, bytes]]]


async def buffered_pages(
    client: aioredis.Redis, keys: Keys, camera_id: str, start_s: float, end_s: float
) -> Pages:
    """The camera's buffered frames captured in [start_s, end_s), oldest first, by page."""
    stream = keys.frames(camera_id)
    low, high = str(round(start_s * 1000)), str(round(end_s * 1000) - 1)
    while True:
        reply = cast(Entries, await client.xrange(stream, low, high, count=PAGE_FRAMES))
        if reply:
            yield [(fields[b"jpeg"], float(fields[b"ts"])) for _, fields in reply]
        if len(reply) < PAGE_FRAMES:
            return
        low = "(" + reply[-1][0].decode()  # after the last entry read


async def evidence_pages(
    client: aioredis.Redis, keys: Keys, alert_id: str, first_s: float, fps: float
) -> Pages:
    """An alert's evidence frames, one every 1/fps s from ``first_s``, by page."""
    key = keys.evidence(alert_id)
    index = 0
    while True:
        jpegs = cast(list[bytes], await client.lrange(key, index, index + PAGE_FRAMES - 1))
        if jpegs:
            yield [(jpeg, first_s + (index + n) / fps) for n, jpeg in enumerate(jpegs)]
        if len(jpegs) < PAGE_FRAMES:
            return
        index += PAGE_FRAMES


async def encode_pages(pages: Pages, crop_bottom: int = 0) -> bytes | None:
    """The MP4 of the pages' frames (without their last ``crop_bottom`` rows), None when
    there are none; VideoError for an unreadable frame."""
    writer = Mp4Writer(crop_bottom)
    try:
        async for page in pages:
            await asyncio.to_thread(_add_all, writer, page)
        return await asyncio.to_thread(writer.finish) if writer.frames else None
    finally:
        await asyncio.to_thread(writer.close)  # after a call still running, if cancelled


def _add_all(writer: Mp4Writer, frames: Sequence[Frame]) -> None:
    for jpeg, at_s in frames:
        writer.add(jpeg, at_s)
