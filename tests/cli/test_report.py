"""`vigil report` end to end against a real Redis: what it prints, and bad periods."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import redis

from agent.runtime.embedded_redis import EmbeddedRedis
from streams.bus.keys import Keys

VIGIL = str(Path(sys.executable).with_name("vigil"))


def run(
    redis_server: EmbeddedRedis, tmp_path: Path, *arguments: str
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ, "VIGIL_REDIS_URL": redis_server.url, "VIGIL_DATA_DIR": str(tmp_path),
        "VIGIL_KEY_PREFIX": "cli-report:",
    }  # fmt: skip
    return subprocess.run(
        [VIGIL, "report", "--pixel-engine", *arguments],
        capture_output=True, text=True, timeout=120, env=env, check=False,
    )  # fmt: skip


def test_a_report_is_printed_from_the_archive_and_an_alert_in_redis(
    redis_server: EmbeddedRedis, tmp_path: Path
) -> None:
    now = time.time()
    alert = {
        "id": "al_cli1", "camera": "dock", "rule": "lane", "severity": "critical",
        "question": "Is a person in the lane?", "state": "closed", "acknowledged": "0",
        "onset_at": f"{now - 300:.3f}", "opened_at": f"{now - 290:.3f}",
        "closed_at": f"{now - 200:.3f}", "description": "a person in the lane",
    }  # fmt: skip
    keys, opened_ms = Keys("cli-report:"), round((now - 290) * 1000)
    with redis.Redis.from_url(redis_server.url) as client:
        client.hset(keys.alert("al_cli1"), mapping=alert)
        client.zadd(keys.camera_alert_index("dock"), {"al_cli1": opened_ms})
        client.zadd(keys.alert_index, {"al_cli1": opened_ms})
    done = run(redis_server, tmp_path, "--camera", "dock", "--since", str(now - 3600), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [(c["camera"], c["rule"], c["alerts"]) for c in report["counts"]] == [
        ("dock", "lane", 1)
    ]
    assert report["timeline"][0]["alert_id"] == "al_cli1"
    assert report["engine_calls"] == 1  # the pixel engine wrote the summary
    text = run(redis_server, tmp_path, "--camera", "gate", "--since", str(now - 3600))
    assert text.returncode == 0, text.stderr
    assert "Nothing notable on gate" in text.stdout
    assert "engine calls: 0" in text.stdout


def test_a_bad_period_is_refused_with_the_reason(
    redis_server: EmbeddedRedis, tmp_path: Path
) -> None:
    backwards = run(
        redis_server, tmp_path, "--since", "2026-12-07T06:00Z", "--until", "2026-12-06T22:00Z"
    )
    assert backwards.returncode == 2
    assert "until must be after since" in backwards.stderr
    garbage = run(redis_server, tmp_path, "--since", "yesterday")
    assert garbage.returncode == 2
    assert "neither epoch seconds nor an ISO time" in garbage.stderr
