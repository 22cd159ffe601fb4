"""Pure logic of the frame path: clock, sampling, backoff, sizing, strip, motion, URLs."""

from __future__ import annotations

import random

import numpy as np
import pytest

from streams.backoff import Backoff
from streams.clock import CaptureClock
from streams.motion import motion_score, thumbnail
from streams.overlay import STRIP_HEIGHT, add_strip, clip_time_text, redraw_strip, wall_time_text
from streams.sampling import RateSampler
from streams.sizing import picture_size
from streams.urls import CameraUrlError, mask_url, parse_camera_url, redact


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


def test_backoff_doubles_up_to_the_cap_with_jitter() -> None:
    backoff = Backoff(0.5, 4.0, random.Random(1))
    delays = [backoff.next_delay_s() for _ in range(8)]
    bases = [0.5, 1, 2, 4, 4, 4, 4, 4]
    assert all(base * 0.5 <= d <= base for d, base in zip(delays, bases, strict=True))
    backoff.reset()
    assert backoff.next_delay_s() <= 0.5


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ((1280, 720), (448, 252)),
        ((1920, 1080), (448, 252)),
        ((640, 272), (504, 196)),
        ((448, 252), (448, 252)),
    ],
)
def test_picture_size_follows_the_qwen_grid(
    source: tuple[int, int], expected: tuple[int, int]
) -> None:
    width, height = picture_size(*source, max_pixels=448 * 252)
    assert (width, height) == expected
    assert width % 28 == 0
    assert (height + STRIP_HEIGHT) % 28 == 0


def test_picture_size_rejects_empty_frames() -> None:
    with pytest.raises(ValueError, match="invalid source size"):
        picture_size(0, 720, 448 * 252)


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


def test_motion_score_is_zero_for_still_and_high_for_change() -> None:
    still = np.full((252, 448, 3), 100, np.uint8)
    moved = still.copy()
    moved[:, :224] = 200
    assert motion_score(None, thumbnail(still)) == 1.0
    assert motion_score(thumbnail(still), thumbnail(still)) == 0.0
    assert motion_score(thumbnail(still), thumbnail(moved)) == pytest.approx(0.5, abs=0.05)
    noisy = np.clip(still + np.random.default_rng(1).normal(0, 4, still.shape), 0, 255)
    assert motion_score(thumbnail(still), thumbnail(noisy.astype(np.uint8))) < 0.01


def test_urls_are_masked_everywhere() -> None:
    url = "rtsp://admin:p%40ss@cam.local:554/stream1"
    assert mask_url(url) == "rtsp://admin:***@cam.local:554/stream1"
    assert parse_camera_url(url).password == "p@ss"
    message = f"Connection refused: '{url}' (password p@ss)"
    assert redact(message, ("p@ss",)) == (
        "Connection refused: 'rtsp://admin:***@cam.local:554/stream1' (password ***)"
    )
    assert mask_url("rtsp://cam.local/x") == "rtsp://cam.local/x"


def test_camera_url_validation() -> None:
    assert parse_camera_url("/videos/a.mp4").is_file
    assert parse_camera_url("file:///videos/a%20b.mp4").path is not None
    with pytest.raises(CameraUrlError, match="unsupported") as caught:
        parse_camera_url("http://user:pw@cam/x")
    assert "pw" not in str(caught.value)
    with pytest.raises(CameraUrlError, match="no host"):
        parse_camera_url("rtsp:///x")
