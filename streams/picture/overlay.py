"""The timestamp strip burned below every frame, in the Cosmos-Reason1 convention.

A 28-pixel black band (one patch row) is added below the picture; white DejaVu Sans Mono
20 px text is centred in the left half on even frames and in the right half on odd
frames, since Qwen2.5-VL merges frame pairs. Ingest writes wall-clock time there for
people; the engine redraws the band with clip-relative seconds for the model.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

STRIP_HEIGHT = 28
FONT_SIZE = 20
FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"),
    Path("/usr/share/fonts/dejavu/DejaVuSansMono.ttf"),
    Path("/usr/local/share/fonts/DejaVuSansMono.ttf"),
)

Image3 = npt.NDArray[np.uint8]
Grey = npt.NDArray[np.uint8]
_MARGIN = 4


class FontMissingError(RuntimeError):
    pass


@functools.cache
def strip_font() -> ImageFont.FreeTypeFont:
    for path in FONT_CANDIDATES:
        if path.is_file():
            return ImageFont.truetype(str(path), FONT_SIZE)
    raise FontMissingError(
        "DejaVu Sans Mono is needed for the timestamp strip; install fonts-dejavu-core"
    )


def clip_time_text(seconds: float) -> str:
    """What the model reads: clip-relative seconds, e.g. ``3.25s``."""
    return f"{seconds:.2f}s"


def wall_time_text(epoch_s: float) -> str:
    """What people read: UTC wall-clock time with hundredths, e.g. ``14:03:07.25Z``."""
    moment = datetime.fromtimestamp(epoch_s, tz=UTC)
    return f"{moment:%H:%M:%S}.{moment.microsecond // 10_000:02d}Z"


@functools.cache
def _glyph(char: str) -> Grey:
    """One character, drawn once: the font is monospaced, so text is a row of tiles.

    Each tile is the character's advance wide plus a margin on both sides for ink that
    overhangs it; tiles are combined with max, so overhangs never erase a neighbour.
    """
    tile = Image.new("L", (_advance() + 2 * _MARGIN, STRIP_HEIGHT), 0)
    ImageDraw.Draw(tile).text(
        (_MARGIN + _advance() / 2, STRIP_HEIGHT / 2), char, fill=255, font=strip_font(), anchor="mm"
    )
    return np.asarray(tile, dtype=np.uint8)


@functools.cache
def _advance() -> int:
    return round(strip_font().getlength("0"))


@functools.lru_cache(maxsize=512)
def strip_band(width: int, text: str, frame_index: int) -> Grey:
    """The grey band for one frame (read-only, cached: clip strips repeat every window)."""
    band = np.zeros((STRIP_HEIGHT, width + 2 * _MARGIN), dtype=np.uint8)
    centre_x = width / 4 if frame_index % 2 == 0 else 3 * width / 4
    left = round(centre_x - len(text) * _advance() / 2)
    for position, char in enumerate(text):
        x = left + position * _advance()
        if x >= 0 and x + _advance() <= width:
            cell = band[:, x : x + _advance() + 2 * _MARGIN]
            np.maximum(cell, _glyph(char), out=cell)
    visible = band[:, _MARGIN : _MARGIN + width].copy()
    visible.flags.writeable = False
    return visible


def render_strip(width: int, text: str, frame_index: int) -> Image3:
    """The strip for one frame as a 3-channel image (white text on black)."""
    return np.repeat(strip_band(width, text, frame_index)[:, :, None], 3, axis=2)


def add_strip(picture: Image3, text: str, frame_index: int) -> Image3:
    """A new image: the picture with the strip appended below it."""
    height, width = picture.shape[:2]
    stamped = np.empty((height + STRIP_HEIGHT, width, 3), dtype=np.uint8)
    stamped[:height] = picture
    stamped[height:] = strip_band(width, text, frame_index)[:, :, None]
    return stamped


def redraw_strip(stamped: Image3, text: str, frame_index: int) -> None:
    """Replaces the strip of an already stamped image in place."""
    width = stamped.shape[1]
    stamped[-STRIP_HEIGHT:] = strip_band(width, text, frame_index)[:, :, None]
