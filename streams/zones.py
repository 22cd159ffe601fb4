"""Zones and masks: named polygons on a camera's picture, in coordinates relative to it.

A zone is a place a rule can be about ("lane", "fire-door-2"); a mask is a place whose
motion never counts (a clock, trees, a screen). Both are validated when they are made:
3 to ``POINTS_MAX`` points inside the picture (0..1 on each axis), a real area and no
edge crossing another. Pure geometry: drawing them is ``streams/picture/marks.py``.
"""

from __future__ import annotations

import itertools
from typing import Annotated

import cv2
import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ZONE_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,31}$"
POINTS_MAX = 32
ZONES_MAX = 16  # per camera, zones and masks each
AREA_MIN = 1e-4  # of the picture: a polygon smaller than this is a slip of the mouse

Point = tuple[Annotated[float, Field(ge=0, le=1)], Annotated[float, Field(ge=0, le=1)]]
Region = npt.NDArray[np.bool_]  # (rows, columns) cells of a grid laid over the picture


class Zone(BaseModel):
    """A named polygon, points relative to the picture: (0, 0) top left, (1, 1) bottom right."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(pattern=ZONE_NAME_PATTERN)]
    points: list[Point] = Field(min_length=3, max_length=POINTS_MAX)

    @field_validator("points")
    @classmethod
    def _simple_polygon(cls, points: list[Point]) -> list[Point]:
        crossing = first_crossing(points)
        if crossing is not None:
            first, second = (_edge_name(edge, len(points)) for edge in crossing)
            raise ValueError(f"the polygon's edge {first} crosses its edge {second}")
        if abs(polygon_area(points)) < AREA_MIN:
            raise ValueError("the polygon has (almost) no area")
        return points

    def bounds(self) -> tuple[float, float, float, float]:
        """(left, top, right, bottom), relative to the picture."""
        xs, ys = [x for x, _ in self.points], [y for _, y in self.points]
        return min(xs), min(ys), max(xs), max(ys)


class CameraZones(BaseModel):
    """A camera's zones and masks; names are unique among each."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    zones: list[Zone] = Field(default=[], max_length=ZONES_MAX)
    masks: list[Zone] = Field(default=[], max_length=ZONES_MAX)

    @model_validator(mode="after")
    def _unique_names(self) -> CameraZones:
        for kind, items in (("zone", self.zones), ("mask", self.masks)):
            names = [item.name for item in items]
            repeated = sorted({name for name in names if names.count(name) > 1})
            if repeated:
                raise ValueError(f"{kind} names appear twice: {', '.join(repeated)}")
        return self

    def named(self, names: list[str]) -> list[Zone]:
        """The zones of these names that the camera has, in the order asked."""
        by_name = {zone.name: zone for zone in self.zones}
        return [by_name[name] for name in names if name in by_name]


def _edge_name(edge: int, count: int) -> str:
    """An edge as people count points: from 1."""
    return f"from point {edge + 1} to point {(edge + 1) % count + 1}"


def polygon_area(points: list[Point]) -> float:
    """Signed area (shoelace), relative to the picture's."""
    total = 0.0
    for (x0, y0), (x1, y1) in zip(points, [*points[1:], points[0]], strict=True):
        total += x0 * y1 - x1 * y0
    return total / 2


def first_crossing(points: list[Point]) -> tuple[int, int] | None:
    """The first pair of edges (by index; edge i runs from point i to i+1) that touch or
    cross, other than at the corner two neighbours share, or None for a simple polygon."""
    count = len(points)
    edges = [(points[i], points[(i + 1) % count]) for i in range(count)]
    for i, j in itertools.combinations(range(count), 2):
        if j == i + 1 or (i == 0 and j == count - 1):
            corner = points[j] if j == i + 1 else points[0]
            ends = (points[i], points[(j + 1) % count]) if j == i + 1 else (points[1], points[j])
            if _folds_back(corner, *ends):
                return i, j
        elif _segments_meet(*edges[i], *edges[j]):
            return i, j
    return None


def _folds_back(corner: Point, first: Point, second: Point) -> bool:
    """Two edges from one corner run along each other (or one has no length)."""
    ax, ay = first[0] - corner[0], first[1] - corner[1]
    bx, by = second[0] - corner[0], second[1] - corner[1]
    if (ax == 0 and ay == 0) or (bx == 0 and by == 0):
        return True
    return abs(ax * by - ay * bx) < 1e-12 and ax * bx + ay * by > 0


def _segments_meet(p1: Point, p2: Point, q1: Point, q2: Point) -> bool:
    d1, d2 = _orientation(q1, q2, p1), _orientation(q1, q2, p2)
    d3, d4 = _orientation(p1, p2, q1), _orientation(p1, p2, q2)
    if d1 * d2 < 0 and d3 * d4 < 0:
        return True
    return any(
        orientation == 0 and _on_segment(a, b, point)
        for orientation, (a, b, point) in (
            (d1, (q1, q2, p1)),
            (d2, (q1, q2, p2)),
            (d3, (p1, p2, q1)),
            (d4, (p1, p2, q2)),
        )
    )


def _orientation(a: Point, b: Point, c: Point) -> int:
    cross = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
    return 0 if abs(cross) < 1e-12 else (1 if cross > 0 else -1)


def _on_segment(a: Point, b: Point, point: Point) -> bool:
    return min(a[0], b[0]) <= point[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= point[1] <= max(
        a[1], b[1]
    )


def raster(zones: list[Zone], columns: int, rows: int) -> Region:
    """The grid cells the polygons cover, at least the cells their outlines cross."""
    grid = np.zeros((rows, columns), dtype=np.uint8)
    for zone in zones:
        corners = np.array([[_cell(x, columns), _cell(y, rows)] for x, y in zone.points], np.int32)
        cv2.fillPoly(grid, [corners], 1)
    return grid.astype(bool)


def _cell(position: float, cells: int) -> int:
    """The cell a relative position falls in (cell i covers [i, i + 1) / cells)."""
    return min(max(int(position * cells), 0), cells - 1)


def region(zones: list[Zone], masks: list[Zone], columns: int, rows: int) -> Region:
    """Where a rule looks on the grid: its zones (the whole picture when it names none),
    less the camera's masks."""
    covered = raster(zones, columns, rows) if zones else np.ones((rows, columns), dtype=bool)
    return covered & ~raster(masks, columns, rows) if masks else covered
