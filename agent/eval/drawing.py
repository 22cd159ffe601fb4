"""Drawing the bundled scenes: the floor they are drawn on and the things that move on it.

Positions are functions of the frame index only, so every run draws the same.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import numpy.typing as npt

WIDTH, HEIGHT, FPS = 448, 252, 25

Picture = npt.NDArray[np.uint8]  # (HEIGHT, WIDTH, 3) RGB
Draw = Callable[[Picture, int], None]  # draws frame ``index`` onto the background copy
Area = tuple[int, int, int, int]  # left, top, right, bottom in pixels
WHOLE: Area = (0, 0, WIDTH, HEIGHT)


def background(rng: np.random.Generator) -> Picture:
    """Grey floor texture, faintly warm, never saturated enough to count as a colour."""
    coarse = rng.normal(0.0, 22.0, (9, 16)).astype(np.float32)
    smooth = cv2.resize(coarse, (WIDTH, HEIGHT), interpolation=cv2.INTER_CUBIC)
    fine = cv2.GaussianBlur(rng.normal(0.0, 10.0, (HEIGHT, WIDTH)).astype(np.float32), (3, 3), 0)
    grey = np.clip(135.0 + smooth + fine, 70, 200)
    tint = np.stack([grey + 5, grey, grey - 5], axis=2)
    return np.clip(tint, 0, 255).astype(np.uint8)


def box(
    picture: Picture, x: float, y: float, w: int, h: int, fill: Picture | tuple[int, ...]
) -> None:
    """A w x h box at (x, y), cut at the picture's edges; fill is a colour or a w x h patch."""
    left, top = round(x), round(y)
    x0, y0, x1, y1 = max(left, 0), max(top, 0), min(left + w, WIDTH), min(top + h, HEIGHT)
    if x0 >= x1 or y0 >= y1:
        return
    if isinstance(fill, np.ndarray):
        picture[y0:y1, x0:x1] = fill[y0 - top : y1 - top, x0 - left : x1 - left]
    else:
        picture[y0:y1, x0:x1] = fill


def slide(t: float, enter_s: float, leave_s: float, rest_x: float, off_x: float) -> float | None:
    """x of an object that slides from off_x to rest_x in 1 s, rests, and slides back."""
    if t < enter_s or t > leave_s + 1.0:
        return None
    if t < enter_s + 1.0:
        return off_x + (rest_x - off_x) * (t - enter_s)
    if t <= leave_s:
        return rest_x
    return rest_x + (off_x - rest_x) * (t - leave_s)


def small_mover(rng: np.random.Generator) -> Draw:
    """A small grey thing circling in a corner: motion, but under the motion threshold."""
    phase = float(rng.uniform(0, 2 * np.pi))

    def draw(picture: Picture, index: int) -> None:
        angle = phase + index / FPS * 0.9
        box(picture, 360 + 30 * np.cos(angle), 60 + 25 * np.sin(angle), 14, 14, (95, 95, 95))

    return draw


def walkers(rng: np.random.Generator, count: int, area: Area = WHOLE) -> Draw:
    """People-sized grey and white shapes walking about inside ``area``, bouncing off its
    edges: motion everywhere there, nothing coloured."""
    left, top, right, bottom = area
    origin = np.array([left, top])
    span = np.array([right - left - 30, bottom - top - 90])
    starts = rng.uniform((0, 20), span, (count, 2))
    speeds = rng.uniform(25, 70, (count, 2)) * rng.choice([-1, 1], (count, 2))
    shades = rng.choice([70, 90, 215, 235, 250], count)

    def draw(picture: Picture, index: int) -> None:
        t = index / FPS
        travelled = (starts + speeds * t) % (2 * span)
        positions = np.where(travelled > span, 2 * span - travelled, travelled)  # bounce
        for (x, y), shade in zip(positions + origin, shades, strict=True):
            grey = (int(shade),) * 3
            box(picture, x + 4, y + 22, 22, 64, grey)
            cv2.circle(picture, (round(x + 15), round(y + 12)), 10, grey, thickness=-1)

    return draw
