"""``vigil bench reports --json`` prints the figures BENCHMARKS.md records, in budget."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_bench_reports_json() -> None:
    vigil = Path(sys.executable).parent / "vigil"
    done = subprocess.run(
        [str(vigil), "bench", "reports", "--json"],
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    result = json.loads(done.stdout)
    assert (result["cameras"], result["hours"], result["alerts"]) == (10, 24.0, 240)
    assert result["windows_archived"] == 108_000
    assert 2 <= result["engine_calls"] <= result["calls_budget"]  # too much for one call
    assert result["alerts_cited_share"] == 1.0
