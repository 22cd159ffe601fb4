"""``vigil bench engine --json`` prints one JSON object with the figures BENCHMARKS.md uses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_bench_engine_json_without_the_model_call() -> None:
    vigil = Path(sys.executable).parent / "vigil"
    command = [str(vigil), "bench", "engine", "--json"]
    command += ["--no-model-call", "--repeats", "3"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    result = json.loads(done.stdout)
    assert result["vision_tokens_per_window"] == 2560  # 32 frames of 448x252 + the 28-px strip
    assert (result["frame_width"], result["frame_height"]) == (448, 280)
    assert 0 < result["worker_ms_per_window"] < result["baseline_ms_per_window"]
    assert result["model_call_ms"] is None
    assert result["zones_overlay_ms_per_window"] < result["worker_ms_per_window"]
    assert result["zones_crop_ms_per_window"] < result["worker_ms_per_window"]
