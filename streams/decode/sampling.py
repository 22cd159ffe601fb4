"""Sampling by presentation time: the first frame at or after each tick of the rate.

Ticks lie on a fixed grid of the period (0.00, 0.25, 0.50 s … at 4 FPS), so samples of
all cameras line up; a tick closer than half a period to the last sample is skipped, so
a late first frame is not followed at once by a second.

A frame is therefore only ever taken when a tick lies between the frame before it and
itself, which lets the decoder skip the others (streams/decode/plan.py).
"""

from __future__ import annotations

import math

# Widens the (previous, frame] interval in which a tick makes a frame takeable, against
# capture times rounded to whole milliseconds (streams/decode/clock.py).
TICK_MARGIN_S = 0.002


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

    def tick_between(self, after_s: float, upto_s: float) -> bool:
        """Whether a tick lies in (after_s, upto_s], give or take ``TICK_MARGIN_S``: if
        not, a frame at ``upto_s`` that follows one at ``after_s`` is never taken."""
        last_tick = math.floor((upto_s + TICK_MARGIN_S) / self._period_s)
        return last_tick > math.floor((after_s - TICK_MARGIN_S) / self._period_s)
