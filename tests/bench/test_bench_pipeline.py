"""`vigil bench pipeline`: a small run on its private server and on the suite's cluster."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import redis

from tests.servers.redis_cluster import LocalRedisCluster

VIGIL = str(Path(sys.executable).with_name("vigil"))


def test_bench_runs_on_one_server_and_a_cluster_and_cleans_up(
    redis_cluster: LocalRedisCluster,
) -> None:
    command = [VIGIL, "bench", "pipeline", "--cameras", "4", "--windows", "2", "--json"]
    result = subprocess.run(
        [*command, "--cluster-url", redis_cluster.url],
        capture_output=True, text=True, timeout=240, check=True,
    )  # fmt: skip
    report = json.loads(result.stdout)
    assert report["windows"] == 8
    assert report["alert_events"] > 0  # the instant engine detects in two windows of three
    assert report["windows_per_s"] > 0
    assert report["cluster_windows_per_s"] > 0
    ratio = report["cluster_windows_per_s"] / report["windows_per_s"]
    assert abs(report["cluster_to_single_ratio"] - ratio) < 0.05  # windows/s are rounded
    with redis.RedisCluster.from_url(redis_cluster.url) as client:
        assert list(client.scan_iter(match="bench:*")) == []
