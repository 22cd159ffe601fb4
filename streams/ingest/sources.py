"""A camera's decoded frames, whatever its URL: RTSP or a file through FFmpeg, WebRTC
through WHEP."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from streams.decode.ffmpeg import looped_file_frames, network_frames
from streams.decode.plan import KeepTest
from streams.decode.source_types import SourceError, SourceFrame, SourceOptions
from streams.urls import WHEP_SCHEMES, CameraUrl

__all__ = ["SourceError", "SourceFrame", "SourceOptions", "open_frames"]


def open_frames(
    url: CameraUrl, options: SourceOptions, stop: threading.Event, keeps: KeepTest | None = None
) -> Iterator[SourceFrame]:
    """The connection's frames; ``keeps`` lets the decoder skip frames it rules out."""
    if url.is_file:
        assert url.path is not None
        return looped_file_frames(url.path, options, stop, keeps)
    if url.scheme in WHEP_SCHEMES:
        # aiortc (tens of MB) is loaded only by processes that read a WebRTC camera.
        from streams.webrtc.whep import whep_frames

        return whep_frames(url, options, stop)
    return network_frames(url.raw, options, keeps)
