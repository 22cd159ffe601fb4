"""Vigil's own frame-size rule agrees with qwen-vl-utils' ``smart_resize``, which ingest
no longer imports (it loads torch); the engine side still resizes with it."""

from __future__ import annotations

import itertools

import pytest
from qwen_vl_utils import smart_resize

from streams.picture.overlay import STRIP_HEIGHT
from streams.picture.sizing import MIN_PIXELS, PATCH_FACTOR, grid_size, picture_size

SIDES = [*range(1, 120, 7), *range(120, 4200, 53), 720, 1080, 1088, 1440, 2160]
BUDGETS = [MIN_PIXELS, 28 * 28 * 16, 448 * 252, 448 * 252 + 1, 640 * 360, 1280 * 720]


def test_the_grid_size_is_qwen_s_over_a_wide_grid_of_sizes_and_budgets() -> None:
    compared = 0
    for height, width, budget in itertools.product(SIDES, SIDES, BUDGETS):
        try:
            expected = smart_resize(height, width, PATCH_FACTOR, MIN_PIXELS, budget)
        except ValueError:
            with pytest.raises(ValueError, match="aspect ratio"):
                grid_size(height, width, PATCH_FACTOR, MIN_PIXELS, budget)
            continue
        assert grid_size(height, width, PATCH_FACTOR, MIN_PIXELS, budget) == expected, (
            height, width, budget,
        )  # fmt: skip
        compared += 1
    assert compared > 30_000


def test_a_frame_too_narrow_for_the_grid_is_refused_not_sized_to_zero() -> None:
    with pytest.raises(ValueError, match="too narrow"):
        picture_size(4000, 21, MIN_PIXELS)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ((1280, 720), (448, 252)),
        ((1920, 1080), (448, 252)),
        ((640, 272), (504, 196)),
        ((448, 252), (448, 252)),
    ],
)
def test_picture_size_follows_the_qwen_grid(
    source: tuple[int, int], expected: tuple[int, int]
) -> None:
    width, height = picture_size(*source, max_pixels=448 * 252)
    assert (width, height) == expected
    assert width % 28 == 0
    assert (height + STRIP_HEIGHT) % 28 == 0


def test_picture_size_rejects_empty_frames() -> None:
    with pytest.raises(ValueError, match="invalid source size"):
        picture_size(0, 720, 448 * 252)
