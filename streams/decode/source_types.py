"""What every camera source hands the reader: decoded frames, its options, its errors."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import av.video.frame

from streams.config import DecodeMode


class SourceError(Exception):
    """A connection to a camera failed or ended; the message is safe to log."""


@dataclass(frozen=True, slots=True)
class SourceFrame:
    pts_s: float | None
    frame: av.video.frame.VideoFrame
    # Frames of the source this one stands for: itself and those the decoder skipped
    # since the frame before (streams/decode/plan.py).
    source_frames: int = 1


@dataclass(frozen=True, slots=True)
class SourceOptions:
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 5.0
    realtime: bool = True  # files: pace to their own frame rate, as a live camera would
    # Live sources that push frames (WebRTC) report here the frames they dropped because
    # the reader fell behind.
    on_dropped: Callable[[int], None] | None = None
    decode: DecodeMode = "exact"  # see streams/decode/plan.py
