"""Frame size under the model's pixel budget, by Qwen2.5-VL's own resize rule.

Both sides become multiples of 28 (patch 14 x merge 2); the 28-pixel timestamp strip is
added below afterwards, so the stamped frame stays on the same grid.
"""

from __future__ import annotations

PATCH_FACTOR = 28
MIN_PIXELS = 4 * PATCH_FACTOR * PATCH_FACTOR
# Guards smart_resize's floor() against float error, e.g. 720 / (20/7) = 251.99999.
_BUDGET_SLACK = 1.0 + 1e-9


def load_resizer() -> None:
    """Imports qwen-vl-utils, which loads torch (seconds). Commands that never size a
    frame (vigil cameras, the API) skip it; ingest calls this before its cameras start,
    so the first frame of a camera is not held up by it."""
    import qwen_vl_utils  # noqa: F401


def picture_size(source_width: int, source_height: int, max_pixels: int) -> tuple[int, int]:
    """(width, height) of the stored picture, strip excluded."""
    if source_width <= 0 or source_height <= 0:
        raise ValueError(f"invalid source size {source_width}x{source_height}")
    from qwen_vl_utils import smart_resize  # see load_resizer

    height, width = smart_resize(
        source_height,
        source_width,
        factor=PATCH_FACTOR,
        min_pixels=MIN_PIXELS,
        max_pixels=int(max_pixels * _BUDGET_SLACK) + 1,
    )
    return int(width), int(height)
