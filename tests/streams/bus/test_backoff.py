"""Reconnect delays."""

from __future__ import annotations

import random

from streams.bus.backoff import Backoff


def test_backoff_doubles_up_to_the_cap_with_jitter() -> None:
    backoff = Backoff(0.5, 4.0, random.Random(1))
    delays = [backoff.next_delay_s() for _ in range(8)]
    bases = [0.5, 1, 2, 4, 4, 4, 4, 4]
    assert all(base * 0.5 <= d <= base for d, base in zip(delays, bases, strict=True))
    backoff.reset()
    assert backoff.next_delay_s() <= 0.5
