"""Capture times from presentation times, and sampling by presentation time."""

from __future__ import annotations

import numpy as np
import pytest

from streams.decode.clock import CaptureClock
from streams.decode.sampling import RateSampler


class FakeNow:
    def __init__(self, start: float) -> None:
        self.value = start

    def __call__(self) -> float:
        return self.value


def test_clock_follows_pts_spacing_anchored_to_the_wall_clock() -> None:
    now = FakeNow(1000.0)
    clock = CaptureClock(now=now)
    assert clock.capture_time(5.0) == 1000.0
    now.value = 1000.5  # arrival jitter does not matter, pts spacing does
    assert clock.capture_time(5.04) == pytest.approx(1000.04)


def test_clock_reanchors_on_jumps_and_never_goes_back() -> None:
    now = FakeNow(1000.0)
    clock = CaptureClock(now=now)
    clock.capture_time(100.0)
    now.value = 1000.1
    assert clock.capture_time(3700.0) == pytest.approx(1000.1)  # source clock jumped ahead
    now.value = 1000.2
    backwards = clock.capture_time(0.0)  # camera rebooted: pts restart at zero
    assert backwards == pytest.approx(1000.2)
    now.value = 999.0  # the wall clock itself steps back
    assert clock.capture_time(None) > backwards


def test_clock_gives_distinct_milliseconds_for_frames_without_pts() -> None:
    clock = CaptureClock(now=FakeNow(50.0))
    stamps = [clock.capture_time(None) for _ in range(5)]
    assert stamps == [50.0, 50.001, 50.002, 50.003, 50.004]


def test_clock_starts_above_the_stored_floor() -> None:
    clock = CaptureClock(now=FakeNow(10.0), floor_s=20.0)
    assert clock.capture_time(None) == 20.001


def test_sampler_takes_four_frames_per_second_of_presentation_time() -> None:
    sampler = RateSampler(4.0)
    taken = [t for t in (i / 25 for i in range(250)) if sampler.take(t)]
    assert len(taken) == 40
    assert np.diff(taken).min() >= 0.2
    assert np.diff(taken).max() <= 0.28 + 1e-9


def test_sampler_takes_every_frame_of_a_slower_source() -> None:
    sampler = RateSampler(4.0)
    assert all(sampler.take(i / 2) for i in range(10))
