"""From a decoded frame to a stored frame record: sample, resize, stamp, score, encode."""

from __future__ import annotations

from av.video.frame import VideoFrame
from av.video.reformatter import VideoReformatter

from streams.buffer.frames import FrameRecord
from streams.decode.clock import CaptureClock
from streams.decode.sampling import RateSampler
from streams.decode.source_types import SourceFrame
from streams.picture.motion import (
    Thumbnail,
    change_map,
    grey_thumbnail,
    pack_changes,
    share_changed,
)
from streams.picture.overlay import wall_time_text
from streams.picture.sizing import picture_size
from streams.picture.ycbcr import Picture420, draw_strip, encode_jpeg, scale_into, stamped_blank


class FrameProcessor:
    """One camera's per-frame work; keeps the state that spans frames and reconnects."""

    def __init__(
        self,
        camera_id: str,
        fps: float,
        max_pixels: int,
        jpeg_quality: int,
        clock: CaptureClock,
    ) -> None:
        self.camera_id = camera_id
        self._max_pixels = max_pixels
        self._jpeg_quality = jpeg_quality
        self._clock = clock
        self._sampler = RateSampler(fps)
        self._reformatter = VideoReformatter()
        self._sizes: dict[tuple[int, int], tuple[int, int]] = {}
        self._previous_thumb: Thumbnail | None = None
        self._seq = 0

    def new_connection(self) -> None:
        self._clock.reset()

    def may_keep(self, previous_pts_s: float, pts_s: float) -> bool:
        """False only when no frame at ``pts_s`` following one at ``previous_pts_s`` can be
        sampled (a ``KeepTest`` of streams/decode/plan.py)."""
        after_s = self._clock.predicted_time(previous_pts_s)
        upto_s = self._clock.predicted_time(pts_s)
        if after_s is None or upto_s is None:
            return True
        return self._sampler.tick_between(after_s, upto_s)

    def process(self, item: SourceFrame) -> FrameRecord | None:
        """The record for a sampled frame; None for frames between samples."""
        capture_s = self._clock.capture_time(item.pts_s)
        if not self._sampler.take(capture_s):
            return None
        width, height = self._size_for(item.frame.width, item.frame.height)
        stamped = stamped_blank(width, height)
        picture = scale_into(self._reformatter, item.frame, stamped.top(height))
        thumb = grey_thumbnail(picture.y)
        changed = change_map(self._previous_thumb, thumb)
        self._previous_thumb = thumb
        draw_strip(stamped, wall_time_text(capture_s), self._seq)
        record = FrameRecord(
            camera_id=self.camera_id,
            ts=capture_s,
            seq=self._seq,
            motion=share_changed(changed),
            width=stamped.width,
            height=stamped.height,
            jpeg=encode_jpeg(stamped, self._jpeg_quality),
            changes=pack_changes(changed),
        )
        self._seq += 1
        return record

    def picture(self, frame: VideoFrame) -> Picture420:
        """The frame at the stored size, strip excluded, as the JPEG stores it."""
        width, height = self._size_for(frame.width, frame.height)
        return scale_into(self._reformatter, frame, Picture420.blank(width, height))

    def _size_for(self, source_width: int, source_height: int) -> tuple[int, int]:
        key = (source_width, source_height)
        if key not in self._sizes:
            self._sizes[key] = picture_size(source_width, source_height, self._max_pixels)
        return self._sizes[key]
