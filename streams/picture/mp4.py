"""JPEG frames to an H.264 MP4 in memory (clip.mp4, evidence.mp4), fed one at a time.

Each JPEG is decoded, encoded and dropped as it is added, so memory holds one decoded
picture, the encoder's few reference frames and the compressed output, whatever the
clip's length (decoding a whole ten-minute clip first held ~160 MB of pictures).
Blocking: run it in a thread.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterable
from fractions import Fraction

import av
from av.container import OutputContainer
from av.video.stream import VideoStream
from PIL import Image

TIME_BASE = Fraction(1, 1000)


class VideoError(ValueError):
    """The frames cannot be made into a video; the message says why."""


class Mp4Writer:
    """An MP4 built frame by frame: ``add`` each JPEG with its time (seconds from any
    origin), then ``finish``; with ``crop_bottom``, each picture without its last rows.
    Calls may come from different threads; they take turns, and ``close`` (which
    discards an unfinished video) waits for a call in progress."""

    def __init__(self, crop_bottom: int = 0) -> None:
        self._crop_bottom = crop_bottom  # rows dropped below each picture (a stamped strip)
        self._output = io.BytesIO()
        self._lock = threading.Lock()
        self._container: OutputContainer | None = None
        self._stream: VideoStream | None = None
        self._origin_s = 0.0
        self._last_pts = -1
        self.frames = 0

    def add(self, jpeg: bytes, at_s: float) -> None:
        image = _open(jpeg)
        if self._crop_bottom:
            width, height = image.size
            if height <= self._crop_bottom:
                raise VideoError(f"a {width}x{height} frame has no picture above its strip")
            image = image.crop((0, 0, width, height - self._crop_bottom))
        with self._lock:
            container, stream = self._started(image.size, at_s)
            frame = av.VideoFrame.from_image(_fit(image, stream.width, stream.height))  # type: ignore[no-untyped-call]
            frame.pts = max(self._last_pts + 1, round((at_s - self._origin_s) * 1000))
            frame.time_base = TIME_BASE
            self._last_pts = frame.pts
            container.mux(stream.encode(frame))
            self.frames += 1

    def finish(self) -> bytes:
        """The MP4 of the frames added; VideoError when there were none."""
        with self._lock:
            if self._stream is None or self._container is None:
                raise VideoError("no frames to encode")
            self._container.mux(self._stream.encode(None))
            self._container.close()
            self._container = self._stream = None
            return self._output.getvalue()

    def close(self) -> None:
        with self._lock:
            if self._container is not None:
                self._container.close()
            self._container = self._stream = None

    def _started(
        self, size: tuple[int, int], origin_s: float
    ) -> tuple[OutputContainer, VideoStream]:
        """The container and stream, opened at the first frame (which sets the size)."""
        if self._container is not None and self._stream is not None:
            return self._container, self._stream
        width, height = _even(size)
        container = av.open(self._output, mode="w", format="mp4")
        stream = container.add_stream("libx264", rate=4)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = TIME_BASE
        stream.codec_context.time_base = TIME_BASE
        stream.options = {"preset": "veryfast", "crf": "26"}
        self._container, self._stream, self._origin_s = container, stream, origin_s
        return container, stream


def encode_frames(frames: Iterable[tuple[bytes, float]]) -> bytes:
    """An MP4 with one frame per (JPEG, time), shown at its time (seconds from any
    origin); ``frames`` is read one at a time, so it can be a generator."""
    writer = Mp4Writer()
    try:
        for jpeg, at_s in frames:
            writer.add(jpeg, at_s)
        return writer.finish()
    finally:
        writer.close()


def encode_mp4(jpegs: Iterable[bytes], times_s: Iterable[float]) -> bytes:
    """``encode_frames`` of the JPEGs with their times."""
    return encode_frames(zip(jpegs, times_s, strict=True))


def _open(jpeg: bytes) -> Image.Image:
    try:
        return Image.open(io.BytesIO(jpeg)).convert("RGB")
    except OSError as error:
        raise VideoError(f"a stored frame is not a readable JPEG: {error}") from None


def _even(size: tuple[int, int]) -> tuple[int, int]:
    width, height = size
    return max(2, width - width % 2), max(2, height - height % 2)


def _fit(image: Image.Image, width: int, height: int) -> Image.Image:
    if image.size == (width, height):
        return image
    return image.resize((width, height))
