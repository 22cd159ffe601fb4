"""The stored picture in the form a JPEG holds it: full-range BT.601 Y, U and V planes,
chroma at half resolution (4:2:0), with the timestamp strip and the JPEG made from them.

A decoded frame is already Y'CbCr. Scaling it straight to these planes, and encoding them
as they are, leaves out ingest's two colour conversions (to BGR for the strip, back to
Y'CbCr inside the JPEG encoder) and a second chroma resampling: per kept frame, half the
CPU of the BGR route from a 720p source and 60% from 1080p (BENCHMARKS.md). The luma
plane is the grey picture that motion scoring needs. Frames in other matrices or ranges
(BT.709, full-range MJPEG) are converted to BT.601 full range, the JPEG (JFIF)
convention, while they are scaled.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import simplejpeg
from av.video.frame import VideoFrame
from av.video.plane import VideoPlane
from av.video.reformatter import ColorRange, Colorspace, Interpolation, VideoReformatter

from streams.picture.overlay import STRIP_HEIGHT, Grey, Image3, strip_band

NEUTRAL_CHROMA = 128  # U and V of a grey pixel: the strip is black and white


@dataclass(frozen=True, slots=True)
class Picture420:
    """Views of one picture's planes; width and height are even."""

    y: Grey
    u: Grey  # half the width and height of y
    v: Grey

    @classmethod
    def blank(cls, width: int, height: int) -> Picture420:
        if width % 2 or height % 2:
            raise ValueError(f"4:2:0 needs an even size, not {width}x{height}")
        samples = np.empty(width * height * 3 // 2, np.uint8)
        luma, chroma = width * height, width * height // 4
        return cls(
            y=samples[:luma].reshape(height, width),
            u=samples[luma : luma + chroma].reshape(height // 2, width // 2),
            v=samples[luma + chroma :].reshape(height // 2, width // 2),
        )

    @property
    def width(self) -> int:
        return int(self.y.shape[1])

    @property
    def height(self) -> int:
        return int(self.y.shape[0])

    def top(self, height: int) -> Picture420:
        """The first ``height`` rows (even), sharing these planes."""
        return Picture420(self.y[:height], self.u[: height // 2], self.v[: height // 2])

    def samples(self) -> Grey:
        """Every sample of the three planes in one flat array (for comparisons)."""
        return np.concatenate([self.y.ravel(), self.u.ravel(), self.v.ravel()])

    def bgr(self) -> Image3:
        """The picture in BGR as a JPEG decoder shows it (JFIF matrix, chroma repeated)."""
        size = (self.width, self.height)
        v, u = (
            cv2.resize(plane, size, interpolation=cv2.INTER_NEAREST) for plane in (self.v, self.u)
        )
        return np.asarray(cv2.cvtColor(cv2.merge([self.y, v, u]), cv2.COLOR_YCrCb2BGR), np.uint8)


def scale_into(reformatter: VideoReformatter, frame: VideoFrame, picture: Picture420) -> Picture420:
    """Scales ``frame`` to fill ``picture`` (area averaging, one thread: swscale's own
    threads cost more than they save at this size); returns ``picture``."""
    scaled = reformatter.reformat(
        frame,
        width=picture.width,
        height=picture.height,
        format="yuv420p",
        dst_colorspace=Colorspace.ITU601,
        dst_color_range=ColorRange.JPEG,
        interpolation=Interpolation.AREA,
        threads=1,
    )
    for plane, target in zip(scaled.planes, (picture.y, picture.u, picture.v), strict=True):
        target[:] = _plane_view(plane, target.shape[1], target.shape[0])
    return picture


def stamped_blank(width: int, height: int) -> Picture420:
    """A picture of ``width`` by ``height`` with room for the strip below it."""
    return Picture420.blank(width, height + STRIP_HEIGHT)


def draw_strip(stamped: Picture420, text: str, frame_index: int) -> None:
    """Draws the timestamp strip (streams/picture/overlay.py) into the bottom rows, in place."""
    stamped.y[-STRIP_HEIGHT:] = strip_band(stamped.width, text, frame_index)
    chroma_rows = STRIP_HEIGHT // 2
    stamped.u[-chroma_rows:] = NEUTRAL_CHROMA
    stamped.v[-chroma_rows:] = NEUTRAL_CHROMA


def encode_jpeg(picture: Picture420, quality: int) -> bytes:
    """A baseline JFIF JPEG of the planes as they are (no colour conversion)."""
    return bytes(simplejpeg.encode_jpeg_yuv_planes(picture.y, picture.u, picture.v, quality))


def _plane_view(plane: VideoPlane, width: int, height: int) -> Grey:
    """A plane's samples without the padding at the end of each row."""
    rows: Grey = np.frombuffer(memoryview(plane), np.uint8).reshape(-1, plane.line_size)
    return rows[:height, :width]
