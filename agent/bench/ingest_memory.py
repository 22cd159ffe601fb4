"""Memory of a real ``vigil ingest`` process reading N cameras (``vigil bench ingest``).

The process runs from a config of its own against a private ``redis-server``, its cameras
the bench's files (looped in real time, as live cameras). Once every camera has stored
frames, its resident set size is sampled for a few seconds; the peak is the figure.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import redis
import yaml

from agent.runtime.embedded_redis import EmbeddedRedis
from streams.bus.keys import Keys

KEY_PREFIX = "bench-rss:"
START_TIMEOUT_S = 60.0
SAMPLE_S = 5.0
POLL_S = 0.2


class MemoryBenchError(RuntimeError):
    """The ingest process failed or its cameras never stored a frame."""


def ingest_rss_mb(videos: list[Path], cameras: int, workdir: Path) -> float:
    """Peak RSS, in MB, of a ``vigil ingest`` process with ``cameras`` cameras."""
    workdir.mkdir(parents=True, exist_ok=True)
    with EmbeddedRedis(workdir / "redis", append_only=False) as server:
        config = workdir / "vigil.yaml"
        ids = [f"cam-{index}" for index in range(cameras)]
        config.write_text(yaml.safe_dump(_config(server.url, ids, videos)))
        log = workdir / "ingest.log"
        vigil = str(Path(sys.executable).with_name("vigil"))
        with log.open("wb") as output:
            process = subprocess.Popen(
                [vigil, "ingest", "--config", str(config)],
                stdout=output, stderr=subprocess.STDOUT,
                env={**_environment(), "VIGIL_DATA_DIR": str(workdir / "data")},
            )  # fmt: skip
        try:
            client = redis.Redis.from_url(server.url)
            _wait_for_frames(process, client, ids, log)
            return _peak_rss_mb(psutil.Process(process.pid))
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _environment() -> dict[str, str]:
    """This process's environment without Vigil's settings: the config file decides."""
    return {name: value for name, value in os.environ.items() if not name.startswith("VIGIL_")}


def _config(redis_url: str, ids: list[str], videos: list[Path]) -> dict[str, object]:
    return {
        "redis_url": redis_url,
        "key_prefix": KEY_PREFIX,
        "ingest": {"retention_s": 60},
        "cameras": [
            {"id": camera, "url": videos[index % len(videos)].as_uri()}
            for index, camera in enumerate(ids)
        ],
    }


def _wait_for_frames(
    process: subprocess.Popen[bytes], client: redis.Redis, ids: list[str], log: Path
) -> None:
    keys = Keys(KEY_PREFIX)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            raise MemoryBenchError(f"vigil ingest exited with {process.returncode}: {tail}")
        if all(int(client.xlen(keys.frames(camera))) > 0 for camera in ids):
            return
        time.sleep(POLL_S)
    raise MemoryBenchError(f"the cameras stored no frames within {START_TIMEOUT_S:.0f} s")


def _peak_rss_mb(process: psutil.Process) -> float:
    peak = 0
    deadline = time.monotonic() + SAMPLE_S
    while time.monotonic() < deadline:
        peak = max(peak, int(process.memory_info().rss))
        time.sleep(POLL_S)
    return peak / 1e6
