"""Wall-clock capture times for decoded frames, monotonic per camera.

A source's presentation times give the spacing between frames; the wall clock gives the
anchor. The anchor is set on the first frame and reset whenever the source clock jumps
(a camera reboot, a wrap, a file loop) or drifts too far from the wall clock, so capture
times stay close to real time and never go backwards, even for sources without pts.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class CaptureClock:
    def __init__(
        self,
        max_drift_s: float | None = 2.0,
        now: Callable[[], float] = time.time,
        floor_s: float = 0.0,
    ) -> None:
        """``max_drift_s=None`` trusts the source clock fully (offline files, benchmarks)."""
        self._max_drift_s = max_drift_s
        self._now = now
        self._offset_s: float | None = None
        self._last_ms = int(floor_s * 1000)

    def reset(self) -> None:
        """Forget the anchor (a new connection); keeps the monotonic floor."""
        self._offset_s = None

    def predicted_time(self, pts_s: float) -> float | None:
        """The capture time a frame at ``pts_s`` would get on the present anchor; None
        before the first frame. Exact but for re-anchoring and the millisecond rounding."""
        return None if self._offset_s is None else self._offset_s + pts_s

    def capture_time(self, pts_s: float | None) -> float:
        now = self._now()
        if pts_s is None:
            moment = now
        else:
            if self._offset_s is None:
                self._offset_s = now - pts_s
            moment = self._offset_s + pts_s
            if self._is_off(moment, now):
                self._offset_s = now - pts_s
                moment = now
        # Whole milliseconds, strictly increasing: they become the frames' stream ids.
        self._last_ms = max(int(moment * 1000), self._last_ms + 1)
        return self._last_ms / 1000

    def _is_off(self, moment: float, now: float) -> bool:
        if moment * 1000 <= self._last_ms:
            return True
        return self._max_drift_s is not None and abs(moment - now) > self._max_drift_s
