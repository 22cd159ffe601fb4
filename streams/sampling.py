"""Sampling by presentation time: the first frame at or after each tick of the rate.

Ticks lie on a fixed grid of the period (0.00, 0.25, 0.50 s … at 4 FPS), so samples of
all cameras line up; a tick closer than half a period to the last sample is skipped, so
a late first frame is not followed at once by a second.
"""

from __future__ import annotations

import math


class RateSampler:
    def __init__(self, fps: float) -> None:
        self._period_s = 1.0 / fps
        self._next_s: float | None = None

    def take(self, capture_s: float) -> bool:
        if self._next_s is not None and capture_s < self._next_s:
            return False
        ticks = math.floor((capture_s + self._period_s / 2) / self._period_s)
        self._next_s = (ticks + 1) * self._period_s
        return True
