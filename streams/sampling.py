"""Sampling by presentation time: the first frame at or after each tick of the rate."""

from __future__ import annotations

import math


class RateSampler:
    def __init__(self, fps: float) -> None:
        self._period_s = 1.0 / fps
        self._next_s: float | None = None

    def take(self, capture_s: float) -> bool:
        if self._next_s is not None and capture_s < self._next_s:
            return False
        self._next_s = (math.floor(capture_s / self._period_s) + 1) * self._period_s
        return True
