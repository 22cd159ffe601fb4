"""From stored frames to the clip the model sees.

Stored frames carry wall-clock time in their 28-px strip, for people. The model was
trained on clip-relative seconds there, so frame i of a clip gets ``i / fps`` redrawn in
its band (text on the left for even i, on the right for odd i). Each frame is touched
once: JPEG decode, the zones' outlines (and crop) when a rule is about a place, band
redraw, then either kept as RGB pixels (in-process engine) or
re-encoded to JPEG (HTTP engine). This is the worker's hot path.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from agent.engines.prompts import ClipFacts
from streams.buffer.frames import FrameRecord
from streams.picture.marks import NO_MARKS, FrameMarker, Marks
from streams.picture.overlay import clip_time_text, redraw_strip

Frames = npt.NDArray[np.uint8]  # (frames, height, width, 3) RGB
DEFAULT_JPEG_QUALITY = 90


class ClipError(ValueError):
    """The frames cannot form a clip (none, mixed sizes, undecodable)."""


@dataclass(frozen=True, slots=True)
class PixelClip:
    """For the in-process engine: decoded RGB frames with clip-relative bands."""

    facts: ClipFacts
    frames: Frames

    @property
    def width(self) -> int:
        return int(self.frames.shape[2])

    @property
    def height(self) -> int:
        return int(self.frames.shape[1])


@dataclass(frozen=True, slots=True)
class JpegClip:
    """For the HTTP engine: re-encoded JPEG frames with clip-relative bands."""

    facts: ClipFacts
    jpegs: tuple[bytes, ...]
    width: int
    height: int


Clip = PixelClip | JpegClip


def clip_facts(records: list[FrameRecord], fps: float, marks: Marks = NO_MARKS) -> ClipFacts:
    _check_records(records)
    return ClipFacts(
        camera_id=records[0].camera_id,
        start_s=records[0].ts,
        fps=fps,
        frame_count=len(records),
        outlined=bool(marks.marks),
        cropped=marks.crop is not None,
    )


def pixel_clip(records: list[FrameRecord], fps: float, marks: Marks = NO_MARKS) -> PixelClip:
    facts = clip_facts(records, fps, marks)
    marker = _marker(records, marks, bgr=False)
    width, height = marker.size if marker else (records[0].width, records[0].height)
    frames = np.empty((len(records), height, width, 3), dtype=np.uint8)
    for index, record in enumerate(records):
        decoded = _decode(record, cv2.IMREAD_COLOR_RGB)
        if marker is not None and marker.crops:
            marker.mark(decoded, frames[index])  # cropped straight into the clip
        else:
            frames[index] = decoded if marker is None else marker.mark(decoded)
        redraw_strip(frames[index], clip_time_text(index / fps), index)
    return PixelClip(facts, frames)


def jpeg_clip(
    records: list[FrameRecord],
    fps: float,
    quality: int = DEFAULT_JPEG_QUALITY,
    marks: Marks = NO_MARKS,
) -> JpegClip:
    facts = clip_facts(records, fps, marks)
    marker = _marker(records, marks, bgr=True)
    width, height = marker.size if marker else (records[0].width, records[0].height)
    cropped = np.empty((height, width, 3), dtype=np.uint8)  # reused: encoded at once
    params = [cv2.IMWRITE_JPEG_QUALITY, quality]
    jpegs = []
    for index, record in enumerate(records):
        frame = _decode(record, cv2.IMREAD_COLOR_BGR)
        if marker is not None:
            frame = marker.mark(frame, cropped)
        redraw_strip(frame, clip_time_text(index / fps), index)
        ok, encoded = cv2.imencode(".jpg", frame, params)
        if not ok:
            raise ClipError(f"JPEG encoding failed for frame {index}")
        jpegs.append(encoded.tobytes())
    return JpegClip(facts, tuple(jpegs), width, height)


def _marker(records: list[FrameRecord], marks: Marks, bgr: bool) -> FrameMarker | None:
    """The clip's marks prepared for its frames' size; None when there are none."""
    return FrameMarker(marks, records[0].width, records[0].height, bgr) if marks else None


def _decode(record: FrameRecord, flags: int) -> Frames:
    buffer = np.frombuffer(record.jpeg, dtype=np.uint8)
    frame: Frames | None = cv2.imdecode(buffer, flags)  # type: ignore[assignment]
    if frame is None or frame.shape[:2] != (record.height, record.width):
        raise ClipError(f"frame {record.entry_id} of {record.camera_id} does not decode")
    return frame


def _check_records(records: list[FrameRecord]) -> None:
    if not records:
        raise ClipError("no frames in the window")
    sizes = {(record.width, record.height) for record in records}
    if len(sizes) > 1:
        raise ClipError(f"frames of one clip differ in size: {sorted(sizes)}")
