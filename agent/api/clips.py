"""Clips the API encodes on request: clip.mp4 from a camera's frame buffer, evidence.mp4
from an alert's frames (read by ``agent.pipeline.clip_pages``). At most
``api.encodes_max`` encodes run at once; a request beyond them is answered 429 at once.
"""

from __future__ import annotations

from agent.api.limits import ENCODE_RETRY_AFTER_S, ApiLimits, too_busy
from agent.pipeline.clip_pages import Pages, encode_pages


async def encode_clip(limits: ApiLimits, pages: Pages) -> bytes | None:
    """The MP4 of the pages' frames, None when there are none. Raises 429 (HTTPException)
    when ``api.encodes_max`` encodes are running, VideoError for an unreadable frame."""
    if not limits.encodes.take():
        detail = f"{limits.encodes.total} clips are being encoded (api.encodes_max)"
        raise too_busy(f"{detail}; try again shortly", ENCODE_RETRY_AFTER_S)
    try:
        return await encode_pages(pages)
    finally:
        limits.encodes.give_back()
