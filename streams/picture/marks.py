"""Set-of-mark overlays: zones outlined in stated colours with letter labels, on a copy.

What the model is sent about a place in the picture is a picture of it: each zone of the
rules asked is outlined in a colour of ``PALETTE`` with a short label (A, B, ...) in a box
of that colour, and the prompt names it by label and colour. Optionally the picture is
cropped first to the zones' bounding box plus a margin and enlarged back to the stored
picture's pixel count, so the model's patches are spent where the rules look. Stored
frames stay unmarked; these functions draw on the frames of a clip.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from streams.picture.overlay import STRIP_HEIGHT
from streams.picture.sizing import PATCH_FACTOR
from streams.zones import Zone

Image3 = npt.NDArray[np.uint8]
Box = tuple[float, float, float, float]  # left, top, right, bottom; relative to the picture

# Colours no common object question is about, far apart in hue, outlines drawn without
# anti-aliasing so the colour is exact. More zones than colours repeat them; labels differ.
PALETTE: tuple[tuple[str, tuple[int, int, int]], ...] = (
    ("magenta", (255, 0, 255)),
    ("cyan", (0, 255, 255)),
    ("orange", (255, 140, 0)),
    ("white", (255, 255, 255)),
)
OUTLINE_PX = 2
LABEL_SCALE = 0.5
CROP_MARGIN = 0.25  # of the zones' bounding box, on each side
CROP_SIDE_MIN = 0.25  # of the picture: a crop never narrower or shorter than this


@dataclass(frozen=True, slots=True)
class Mark:
    """One zone as drawn: its label and colour, and its points on the whole picture."""

    name: str
    label: str
    colour: str
    rgb: tuple[int, int, int]
    points: tuple[tuple[float, float], ...]

    @property
    def hex(self) -> str:
        return "#{:02x}{:02x}{:02x}".format(*self.rgb)


@dataclass(frozen=True, slots=True)
class Marks:
    """What is drawn on every frame of one clip: outlines, and the crop, if any."""

    marks: tuple[Mark, ...] = ()
    crop: Box | None = None

    def __bool__(self) -> bool:
        return bool(self.marks) or self.crop is not None

    def by_name(self) -> dict[str, Mark]:
        return {mark.name: mark for mark in self.marks}


NO_MARKS = Marks()


def marks_for(zones: list[Zone], crop: bool) -> Marks:
    """Labels and colours for these zones in order (A in the first colour, ...), and the
    crop around all of them when asked."""
    marks = tuple(
        Mark(zone.name, _label(index), *PALETTE[index % len(PALETTE)], tuple(zone.points))
        for index, zone in enumerate(zones)
    )
    return Marks(marks, crop_box(zones) if crop and zones else None)


def crop_box(zones: list[Zone]) -> Box:
    """The zones' bounding box with a margin, at least ``CROP_SIDE_MIN`` a side, inside
    the picture."""
    bounds = [zone.bounds() for zone in zones]
    left, top = min(b[0] for b in bounds), min(b[1] for b in bounds)
    right, bottom = max(b[2] for b in bounds), max(b[3] for b in bounds)
    left, right = _widened(left, right)
    top, bottom = _widened(top, bottom)
    return left, top, right, bottom


def _widened(low: float, high: float) -> tuple[float, float]:
    margin = (high - low) * CROP_MARGIN
    low, high = low - margin, high + margin
    short = CROP_SIDE_MIN - (high - low)
    if short > 0:
        low, high = low - short / 2, high + short / 2
    if low < 0:
        low, high = 0.0, min(1.0, high - low)
    if high > 1:
        low, high = max(0.0, low - (high - 1)), 1.0
    return low, high


class FrameMarker:
    """Marks every frame of one clip the same way, prepared once: the crop's source box
    and size, and the outlines drawn once onto a layer that each frame takes through
    their mask (one masked copy per frame, no drawing)."""

    def __init__(self, marks: Marks, width: int, height: int, bgr: bool) -> None:
        """``width`` x ``height``: the stored frames, strip included."""
        picture_h = height - STRIP_HEIGHT
        self._box = marks.crop or (0.0, 0.0, 1.0, 1.0)
        self._source: tuple[int, int, int, int] | None = None
        out_w, out_h = width, picture_h
        if marks.crop is not None:
            box = marks.crop
            self._source = (
                math.floor(box[0] * width), math.floor(box[1] * picture_h),
                math.ceil(box[2] * width), math.ceil(box[3] * picture_h),
            )  # fmt: skip
            out_w, out_h = _crop_picture_size(width, picture_h, box)
        self.size = (out_w, out_h + STRIP_HEIGHT)
        layer = np.zeros((out_h + STRIP_HEIGHT, out_w, 3), dtype=np.uint8)
        drawn = np.zeros((out_h + STRIP_HEIGHT, out_w), dtype=np.uint8)
        for mark in marks.marks:
            _draw(layer, mark, self._box, bgr)
            _draw(drawn, mark, self._box, bgr=False, ink=(255,))
        self._layer, self._drawn = layer[:out_h], drawn[:out_h]

    @property
    def crops(self) -> bool:
        return self._source is not None

    def mark(self, frame: Image3, out: Image3 | None = None) -> Image3:
        """The stored ``frame`` with the outlines on, in place; cropped into ``out`` (of
        ``size``) when the marks crop. The strip is left for the caller to redraw."""
        if self._source is None:
            self._outline(frame)
            return frame
        if out is None:
            out = np.empty((self.size[1], self.size[0], 3), dtype=np.uint8)
        left, top, right, bottom = self._source
        cv2.resize(
            frame[top:bottom, left:right], (self.size[0], self.size[1] - STRIP_HEIGHT),
            dst=out[: self.size[1] - STRIP_HEIGHT], interpolation=cv2.INTER_LINEAR,
        )  # fmt: skip
        self._outline(out)
        return out

    def _outline(self, frame: Image3) -> None:
        picture = frame[: self._layer.shape[0]]
        cv2.copyTo(self._layer, self._drawn, picture)  # writes into the frame's picture


def _crop_picture_size(width: int, height: int, box: Box) -> tuple[int, int]:
    """The crop enlarged to the picture's pixel count, each side on the patch grid."""
    crop_w, crop_h = (box[2] - box[0]) * width, (box[3] - box[1]) * height
    grow = math.sqrt(width * height / (crop_w * crop_h))
    return _on_grid(crop_w * grow), _on_grid(crop_h * grow)


def _on_grid(pixels: float) -> int:
    return max(2 * PATCH_FACTOR, math.floor(pixels / PATCH_FACTOR) * PATCH_FACTOR)


def _draw(
    frame: npt.NDArray[np.uint8],
    mark: Mark,
    box: Box,
    bgr: bool,
    ink: tuple[int, ...] | None = None,
) -> None:
    """The mark's outline and label on the frame (in ``ink`` instead of its colours, for
    a one-channel map of where it is drawn)."""
    picture_h, width = frame.shape[0] - STRIP_HEIGHT, frame.shape[1]
    colour = ink or (mark.rgb[::-1] if bgr else mark.rgb)
    span_x, span_y = box[2] - box[0], box[3] - box[1]
    corners = np.array(
        [
            [
                round((x - box[0]) / span_x * (width - 1)),
                round((y - box[1]) / span_y * (picture_h - 1)),
            ]
            for x, y in mark.points
        ],
        np.int32,
    )
    picture = frame[:picture_h]
    cv2.polylines(picture, [corners], True, colour, OUTLINE_PX, lineType=cv2.LINE_8)
    _draw_label(picture, mark.label, corners, colour, ink)


def _draw_label(
    picture: npt.NDArray[np.uint8],
    label: str,
    corners: npt.NDArray[np.int32],
    colour: tuple[int, ...],
    ink: tuple[int, ...] | None,
) -> None:
    """The label in black on a box of the zone's colour, at the zone's top-left corner,
    inside the picture."""
    (text_w, text_h), baseline = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, LABEL_SCALE, 1)
    box_w, box_h = text_w + 4, text_h + baseline + 4
    corner = corners[np.argmin(corners[:, 0] + corners[:, 1])]
    height, width = picture.shape[:2]
    x = int(min(max(corner[0], 0), width - box_w))
    y = int(min(max(corner[1], 0), height - box_h))
    cv2.rectangle(picture, (x, y), (x + box_w - 1, y + box_h - 1), colour, -1)
    cv2.putText(
        picture, label, (x + 2, y + box_h - baseline - 2), cv2.FONT_HERSHEY_SIMPLEX,
        LABEL_SCALE, ink or (0, 0, 0), 1, cv2.LINE_8,
    )  # fmt: skip


def _label(index: int) -> str:
    """A, B, ..., Z, AA, AB, ..."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters
