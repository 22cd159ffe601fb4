"""Health states derived from the reader's counters."""

from __future__ import annotations

from pydantic import SecretStr

from streams.buffer.health import CameraHealth, health_for
from streams.config import CameraConfig, IngestSettings, resolve_camera


def make_health() -> CameraHealth:
    spec = resolve_camera(
        CameraConfig(id="c", url=SecretStr("rtsp://u:pw@cam/x")),
        IngestSettings(stall_frames=30, stall_min_s=2.0),
    )
    return health_for(spec)


def test_states_follow_frames_and_scale_the_stall_to_the_source_rate() -> None:
    health = make_health()
    assert health.snapshot(100.0)["state"] == "connecting"
    for i in range(10):  # 10 fps for one second
        health.frame_decoded(100.0 + i / 10)
    snapshot = health.snapshot(101.0)
    assert snapshot["state"] == "online"
    assert float(snapshot["fps_in"]) == 10.0
    assert snapshot["url"] == "rtsp://u:***@cam/x"
    # 30 missing frames at 10 fps = 3 s: still online after 2.5 s, stalled after 3.5 s.
    assert health.snapshot(103.4)["state"] == "online"
    assert health.snapshot(104.5)["state"] == "stalled"
    health.disconnected("stream ended")
    snapshot = health.snapshot(105.0)
    assert (snapshot["state"], snapshot["reconnects"], snapshot["last_error"]) == (
        "offline",
        "1",
        "stream ended",
    )
    health.frame_decoded(106.0)
    assert health.snapshot(106.1)["state"] == "online"


def test_drops_and_stores_are_counted() -> None:
    health = make_health()
    health.frame_dropped(3)
    health.frame_stored(50.0, 448, 280)
    snapshot = health.snapshot(51.0)
    assert (snapshot["dropped"], snapshot["frames_out"], snapshot["width"]) == ("3", "1", "448")


def test_the_stored_rate_is_measured_over_capture_times_not_bursts() -> None:
    """Frames captured exactly 250 ms apart but written in bursts of 1 to 3 frames, read
    every 0.5 s: 4.00 fps every time (counting per second of wall time said 2 to 6)."""
    health = make_health()
    capture_s = 1000.0
    for read in range(24):
        for _ in range(1 + read % 3):
            health.frame_stored(capture_s, 448, 280)
            capture_s += 0.25
        snapshot = health.snapshot(1000.0 + 0.5 * (read + 1))
        if read >= 1:
            assert snapshot["fps_out"] == "4.00"
    assert snapshot["fps_out_period_s"] == "10"
    # A camera that stopped storing reads 0 once the period has passed.
    assert health.snapshot(capture_s + 11)["fps_out"] == "0.00"
