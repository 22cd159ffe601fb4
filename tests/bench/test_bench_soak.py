"""`vigil bench soak`: a two-minute run of the roles apart under the compressed schedule
(a Redis restart, the engine's 503s, time-outs and garbage, the broker and the store
down, a poison entry in every stream, every role SIGKILLed once, hostile API bursts)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from agent.bench.soak_faults import schedule

VIGIL = str(Path(sys.executable).with_name("vigil"))
MINUTES = 2
FIELDS = (
    "unplanned_deaths", "part_restarts", "lost", "duplicates", "recall_outside_outages",
    "rss_growth_pct_per_hour", "redis_memory_growth_pct_per_hour", "healthz_p99_ms",
)  # fmt: skip


def test_the_compressed_schedule_holds_every_kind_of_fault() -> None:
    faults = schedule(MINUTES)
    kinds = {fault.kind for fault in faults}
    assert {"redis", "engine", "poison", "kill", "load"} <= kinds
    assert {fault.target for fault in faults if fault.kind == "engine"} == {
        "503", "timeout", "garbage",
    }  # fmt: skip
    assert all(fault.end_s < MINUTES * 60 for fault in faults)
    assert faults == schedule(MINUTES)  # deterministic


@pytest.mark.timeout(600)
def test_a_short_soak_loses_nothing_and_nothing_dies(tmp_path: Path) -> None:
    command = [VIGIL, "bench", "soak", "--minutes", str(MINUTES), "--drain-s", "150", "--json"]
    result = subprocess.run(
        [*command, "--logs", str(tmp_path / "logs")],
        capture_output=True, text=True, timeout=540, check=True,
    )  # fmt: skip
    report = json.loads(result.stdout)
    assert all(field in report for field in FIELDS)
    assert report["drained_s"] is not None, "alerts still open or work left after the drain"
    assert report["planned_kills"] == 7
    assert report["alerts_opened"] > 0
    assert report["poison"]["injected"], "no poison entry was written"
    assert report["errors"] == [], report["errors"]
    assert report["deaths"] == [], report["deaths"]
    assert report["unplanned_deaths"] == 0
    assert report["paths"]["archive"] is not None
    assert (report["lost"], report["duplicates"]) == (0, 0), report["paths"]
