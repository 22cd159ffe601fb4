"""Reconnect delays: exponential, capped, with jitter so cameras do not retry in step."""

from __future__ import annotations

import asyncio
import contextlib
import random


class Backoff:
    def __init__(self, initial_s: float, cap_s: float, rng: random.Random | None = None) -> None:
        self._initial_s = initial_s
        self._cap_s = cap_s
        self._rng = rng or random.Random()
        self._attempt = 0

    def next_delay_s(self) -> float:
        """The next wait: base doubles per failure up to the cap, then 50-100% of it."""
        base = min(self._cap_s, self._initial_s * (2 ** min(self._attempt, 32)))
        self._attempt += 1
        return float(base * self._rng.uniform(0.5, 1.0))

    def reset(self) -> None:
        self._attempt = 0


async def sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    """Waits ``seconds``, or less when ``stop`` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
