"""JPEG frames to an H.264 MP4 in memory (clip.mp4, evidence.mp4). Blocking: run in a thread."""

from __future__ import annotations

import io
from fractions import Fraction

import av
from PIL import Image

TIME_BASE = Fraction(1, 1000)


class VideoError(ValueError):
    """The frames cannot be made into a video; the message says why."""


def encode_mp4(jpegs: list[bytes], times_s: list[float]) -> bytes:
    """An MP4 with one frame per JPEG shown at its time (seconds from any origin)."""
    if not jpegs:
        raise VideoError("no frames to encode")
    images = [_open(jpeg) for jpeg in jpegs]
    width, height = _even(images[0].size)
    output = io.BytesIO()
    with av.open(output, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=4)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = TIME_BASE
        stream.codec_context.time_base = TIME_BASE
        stream.options = {"preset": "veryfast", "crf": "26"}
        origin, last_pts = times_s[0], -1
        for image, at_s in zip(images, times_s, strict=True):
            frame = av.VideoFrame.from_image(_fit(image, width, height))  # type: ignore[no-untyped-call]
            frame.pts = max(last_pts + 1, round((at_s - origin) * 1000))
            frame.time_base = TIME_BASE
            last_pts = frame.pts
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return output.getvalue()


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
