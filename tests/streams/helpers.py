"""Helpers shared by the ingest tests."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
from pydantic import SecretStr

from streams.buffer.frames import FrameRecord, read_frames
from streams.buffer.health_records import read_health
from streams.bus.keys import Keys
from streams.config import CameraConfig, CameraSpec, IngestSettings, resolve_camera
from streams.ingest.service import IngestService

FAST_RECONNECT = IngestSettings(
    backoff_initial_s=0.2,
    backoff_cap_s=1.0,
    connect_timeout_s=2.0,
    read_timeout_s=2.0,
    health_interval_s=0.2,
    stall_min_s=1.0,
)


def camera(
    camera_id: str, url: str, settings: IngestSettings = FAST_RECONNECT, **overrides: object
) -> CameraSpec:
    config = CameraConfig(id=camera_id, url=SecretStr(url), **overrides)  # type: ignore[arg-type]
    return resolve_camera(config, settings)


@contextmanager
def running_ingest(
    client: redis.Redis,
    keys: Keys,
    cameras: list[CameraSpec],
    settings: IngestSettings = FAST_RECONNECT,
    realtime: bool = True,
) -> Iterator[IngestService]:
    service = IngestService(cameras, client, keys, settings, realtime=realtime).start()
    try:
        yield service
    finally:
        service.stop()


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def state_of(client: redis.Redis, keys: Keys, camera_id: str) -> str:
    return read_health(client, keys, camera_id, time.time()).get("state", "")


def all_frames(client: redis.Redis, keys: Keys, camera_id: str) -> list[FrameRecord]:
    return read_frames(client, keys, camera_id, 0, time.time() + 3600)


def make_video(path: Path, lavfi_source: str, seconds: float = 2.0) -> Path:
    """An H.264 test video from one of ffmpeg's generated sources, e.g. ``testsrc2``."""
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            lavfi_source,
            "-t",
            str(seconds),
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            str(path),
        ],
        check=True,
    )
    return path
