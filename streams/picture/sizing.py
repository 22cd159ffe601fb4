"""Frame size under the model's pixel budget, by Qwen2.5-VL's resize rule.

Both sides become multiples of 28 (patch 14 x merge 2); the 28-pixel timestamp strip is
added below afterwards, so the stamped frame stays on the same grid. The rule is
qwen-vl-utils' ``smart_resize``, restated here because importing that package loads torch
(about 0.9 GB and 3 s per process) and ingest needs nothing else from it; the tests check
the two agree over a wide grid of sizes and budgets.
"""

from __future__ import annotations

import math

PATCH_FACTOR = 28
MIN_PIXELS = 4 * PATCH_FACTOR * PATCH_FACTOR
MAX_ASPECT_RATIO = 200
# Guards the floor() below against float error, e.g. 720 / (20/7) = 251.99999.
_BUDGET_SLACK = 1.0 + 1e-9


def grid_size(
    height: int, width: int, factor: int, min_pixels: int, max_pixels: int
) -> tuple[int, int]:
    """(height, width) on a ``factor`` grid, with the pixel count in the budget when it
    can be, and the aspect ratio kept as closely as the grid allows."""
    if max(height, width) / min(height, width) > MAX_ASPECT_RATIO:
        raise ValueError(f"aspect ratio over {MAX_ASPECT_RATIO}: {width}x{height}")
    grid_height = max(factor, round(height / factor) * factor)
    grid_width = max(factor, round(width / factor) * factor)
    if grid_height * grid_width > max_pixels:
        shrink = math.sqrt(height * width / max_pixels)
        grid_height = math.floor(height / shrink / factor) * factor
        grid_width = math.floor(width / shrink / factor) * factor
    elif grid_height * grid_width < min_pixels:
        grow = math.sqrt(min_pixels / (height * width))
        grid_height = math.ceil(height * grow / factor) * factor
        grid_width = math.ceil(width * grow / factor) * factor
    return grid_height, grid_width


def picture_size(source_width: int, source_height: int, max_pixels: int) -> tuple[int, int]:
    """(width, height) of the stored picture, strip excluded."""
    if source_width <= 0 or source_height <= 0:
        raise ValueError(f"invalid source size {source_width}x{source_height}")
    height, width = grid_size(
        source_height,
        source_width,
        factor=PATCH_FACTOR,
        min_pixels=MIN_PIXELS,
        max_pixels=int(max_pixels * _BUDGET_SLACK) + 1,
    )
    if height <= 0 or width <= 0:
        raise ValueError(f"{source_width}x{source_height} is too narrow for {max_pixels} pixels")
    return width, height
