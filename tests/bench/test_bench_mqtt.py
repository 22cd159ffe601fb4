"""`vigil bench mqtt`: a small run through a private Mosquitto, beside the webhooks bench."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

VIGIL = str(Path(sys.executable).with_name("vigil"))


def test_bench_mqtt_delivers_every_event_once_and_reports_webhooks_beside() -> None:
    command = [VIGIL, "bench", "mqtt", "--rate", "30", "--seconds", "2", "--cameras", "6"]
    result = subprocess.run(
        [*command, "--webhook-receivers", "2", "--json"],
        capture_output=True, text=True, timeout=240, check=True,
    )  # fmt: skip
    report = json.loads(result.stdout)
    mqtt = report["mqtt"]
    assert mqtt["events"] == 60  # every window of the load is one alert event
    assert mqtt["received"] == 60
    assert (mqtt["lost"], mqtt["duplicates"]) == (0, 0)
    assert 0 < mqtt["p50_ms"] <= mqtt["p99_ms"] <= mqtt["max_ms"]
    assert report["webhooks"]["lost"] == 0
    assert report["webhooks"]["p99_ms"] > 0


def test_bench_mqtt_refuses_a_single_webhook_receiver() -> None:
    result = subprocess.run(
        [VIGIL, "bench", "mqtt", "--webhook-receivers", "1"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert "--webhook-receivers" in result.stderr
