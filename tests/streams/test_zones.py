"""Zone geometry: what a valid polygon is, and the grid cells a rule looks at."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from streams.zones import CameraZones, Zone, first_crossing, region

SQUARE = [(0.25, 0.25), (0.75, 0.25), (0.75, 0.75), (0.25, 0.75)]


@pytest.mark.parametrize(
    ("points", "crossing"),
    [
        (SQUARE, None),
        ([(0.1, 0.1), (0.9, 0.9), (0.9, 0.1), (0.1, 0.8)], (0, 2)),  # a bow tie
        ([(0.1, 0.1), (0.9, 0.1), (0.5, 0.1), (0.5, 0.9)], (0, 1)),  # folds back on itself
        ([(0.1, 0.1), (0.9, 0.1), (0.9, 0.1), (0.1, 0.9)], (0, 1)),  # a point twice
        ([(0.1, 0.1), (0.9, 0.1), (0.9, 0.9), (0.5, 0.1), (0.1, 0.9)], (0, 2)),  # touches
        ([(0.5, 0.1), (0.9, 0.9), (0.1, 0.9)], None),
    ],
)
def test_crossing_edges_are_found(
    points: list[tuple[float, float]], crossing: tuple[int, int] | None
) -> None:
    assert first_crossing(points) == crossing


def test_invalid_polygons_are_refused() -> None:
    for points in (SQUARE[:2], [(0.0, 0.0), (1.01, 0.0), (1.0, 1.0)], [(0, 0), (0.5, 0.5), (1, 1)]):
        with pytest.raises(ValidationError):
            Zone(name="a", points=points)
    with pytest.raises(ValidationError, match="appear twice"):
        CameraZones(zones=[Zone(name="a", points=SQUARE)] * 2)


def test_a_region_is_its_zones_less_the_masks() -> None:
    zone = Zone(name="middle", points=SQUARE)
    mask = Zone(name="corner", points=[(0.5, 0.5), (1.0, 0.5), (1.0, 1.0), (0.5, 1.0)])
    whole = region([], [], 64, 36)
    assert whole.all()
    assert (region([], [mask], 64, 36) == ~region([mask], [], 64, 36)).all()
    middle = region([zone], [], 64, 36)
    share = np.count_nonzero(middle) / middle.size
    assert 0.24 <= share <= 0.30  # a quarter of the picture, edge cells included
    assert not middle[:8].any()
    assert not middle[:, :15].any()
    masked = region([zone], [mask], 64, 36)
    assert 0.15 <= np.count_nonzero(masked) / masked.size < share
    assert not masked[28:, 40:].any()
