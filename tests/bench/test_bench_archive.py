"""`vigil bench archive`: a small run through the real committer, search beside the exact
scan, and the sizes per camera-day."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

VIGIL = str(Path(sys.executable).with_name("vigil"))


def test_bench_archive_commits_searches_and_sizes_a_small_archive() -> None:
    command = [VIGIL, "bench", "archive", "--rows", "3000", "--cameras", "3", "--days", "2"]
    result = subprocess.run(
        [*command, "--queries", "8", "--commit-rows", "300", "--alerts-per-round", "4", "--json"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    report = json.loads(result.stdout)
    assert report["rows_per_s"] > 0
    assert report["rows_per_s_analysed_only"] > 0
    assert report["committed"] == report["committed_analysed_only"] == 300
    assert report["queries_with_results"] == 8  # a camera-day holds hundreds of captions
    assert 0 < report["search_p50_ms"] <= report["search_p95_ms"]
    assert 0 < report["scan_p50_ms"] <= report["scan_p95_ms"]
    assert report["scan_over_search_p50"] > 0
    assert report["filtered_windows_mean"] > 100  # 1,000 windows per camera over 2 days
    assert report["camera_queries"] == 4
    assert 0 < report["camera_search_p50_ms"] <= report["camera_search_p95_ms"]
    assert 0 < report["camera_scan_p50_ms"] <= report["camera_scan_p95_ms"]
    assert report["vector_recall_at_20"] == 1.0  # no vector index below 100,000 rows: exact
    assert report["thumbnails_cut_analysed_only"] == 300  # each analysed window cuts its own
    # A still window shows the thumbnail of the window it is unchanged since.
    assert 100 < report["thumbnails_cut"] < 250
    assert report["thumbnails_measured"] == report["thumbnails_cut"]
    assert report["thumbnails_per_window"] == round(report["thumbnails_cut"] / 300, 3)
    assert 1_000 < report["thumbnail_bytes_mean"] < 30_000  # a 320-px JPEG of the street
    assert report["archive_row_bytes"] > 0
    assert report["archive_bytes_per_camera_day"] == (
        report["archive_rows_bytes_per_camera_day"]
        + report["archive_thumbnail_bytes_per_camera_day"]
    )
    assert report["alerts"] == report["archived_alerts"] == 20  # 5 rounds of 4
    # Each alert held ~1 MB of evidence while hot; after retention Redis keeps no trace of it.
    assert report["redis_bytes_per_alert_hot"] > 100_000
    assert (
        abs(report["redis_bytes_per_alert_after_retention"])
        < 0.02 * report["redis_bytes_per_alert_hot"]
    )
