"""A camera password never shows: not in logs, health records, errors or CLI output."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
import yaml

from agent.runtime.embedded_redis import EmbeddedRedis
from streams.bus.keys import Keys
from tests.conftest import free_port
from tests.servers.rtsp import RtspServer
from tests.streams.helpers import all_frames, camera, running_ingest, wait_for

PASSWORD = "s3cr3t-Pa55"  # the secret the tests look for
VIGIL = Path(sys.executable).with_name("vigil")


def everything_in_redis(client: redis.Redis, keys: Keys) -> bytes:
    dump = b""
    for key in client.scan_iter(f"{keys.prefix}*"):
        if client.type(key) == b"hash":
            dump += b" ".join(b"%s=%s" % item for item in client.hgetall(key).items())
    return dump


def test_password_absent_from_logs_and_health(
    redis_client: redis.Redis,
    keys: Keys,
    rtsp_server: RtspServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    cameras = [
        camera("ok", rtsp_server.url("/live", userinfo=f"admin:{PASSWORD}")),
        camera("down", f"rtsp://admin:{PASSWORD}@127.0.0.1:{free_port()}/live"),
    ]
    with running_ingest(redis_client, keys, cameras):
        wait_for(lambda: len(all_frames(redis_client, keys, "ok")) >= 2, 10, "frames")
        wait_for(lambda: bool(redis_client.hget(keys.health("down"), "last_error")), 10, "error")
    health = everything_in_redis(redis_client, keys)
    assert b"admin:***@127.0.0.1" in health
    assert PASSWORD.encode() not in health
    assert "refused" in caplog.text.lower()
    assert PASSWORD not in caplog.text


def test_password_absent_from_cli_output(
    redis_server: EmbeddedRedis, keys: Keys, tmp_path: Path
) -> None:
    config = tmp_path / "vigil.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "redis_url": redis_server.url,
                "key_prefix": keys.prefix,
                "ingest": {"backoff_cap_s": 1.0, "health_interval_s": 0.2},
                "cameras": [
                    {"id": "door", "url": f"rtsp://admin:{PASSWORD}@127.0.0.1:{free_port()}/x"}
                ],
            }
        )
    )
    env = {**os.environ, "VIGIL_CONFIG": str(config)}
    ingest = subprocess.Popen(
        [str(VIGIL), "ingest"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        client = redis.Redis.from_url(redis_server.url)
        wait_for(lambda: bool(client.hget(keys.health("door"), "last_error")), 30, "an error")
        time.sleep(1.5)  # a few reconnect attempts, each logged
        table = subprocess.run(
            [str(VIGIL), "cameras"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
    finally:
        ingest.send_signal(signal.SIGINT)
        ingest_output, _ = ingest.communicate(timeout=30)
    assert ingest.returncode == 0, ingest_output
    assert "door" in table.stdout
    assert "offline" in table.stdout
    assert "refused" in ingest_output.lower()
    for output in (ingest_output, table.stdout, table.stderr):
        assert PASSWORD not in output


def test_invalid_config_is_reported_without_the_password(tmp_path: Path) -> None:
    config = tmp_path / "vigil.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "cameras": [{"id": "door", "url": f"http://admin:{PASSWORD}@host/x", "fps": 0}],
            }
        )
    )
    result = subprocess.run(
        [str(VIGIL), "ingest", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "cameras.0.url" in result.stderr
    assert "cameras.0.fps" in result.stderr
    assert "unsupported camera URL scheme 'http'" in result.stderr
    assert PASSWORD not in result.stderr + result.stdout
