"""The timestamp strip."""

from __future__ import annotations

import numpy as np

from streams.picture.overlay import add_strip, clip_time_text, redraw_strip, wall_time_text


def text_columns(strip: np.ndarray) -> np.ndarray:
    return np.nonzero(strip.max(axis=(0, 2)) > 128)[0]


def test_strip_is_28_px_below_the_picture_alternating_halves() -> None:
    picture = np.full((252, 448, 3), 90, np.uint8)
    even = add_strip(picture, clip_time_text(0.0), 0)
    odd = add_strip(picture, clip_time_text(0.25), 1)
    assert even.shape == (280, 448, 3)
    assert (even[:252] == picture).all()
    assert text_columns(even[252:]).max() < 224 <= text_columns(odd[252:]).min()
    assert even[252:, :, 0].min() == 0
    assert even[252:].max() == 255


def test_redraw_replaces_only_the_strip() -> None:
    picture = np.random.default_rng(0).integers(0, 255, (252, 448, 3), dtype=np.uint8)
    stamped = add_strip(picture, wall_time_text(1_700_000_000.5), 3)
    redraw_strip(stamped, clip_time_text(1.75), 7)
    assert (stamped[:252] == picture).all()
    assert (stamped[252:] == add_strip(picture, clip_time_text(1.75), 7)[252:]).all()


def test_strip_texts() -> None:
    assert clip_time_text(3.25) == "3.25s"
    assert wall_time_text(1_700_000_000.256) == "22:13:20.25Z"
