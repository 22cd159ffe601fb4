"""A quick smoke run of ``vigil bench ingest``: tiny settings, real ffmpeg, Redis and ingest.

It checks the shape and sanity of the report, not the figures: benchmarks are not timed
tests.
"""

from __future__ import annotations

import json
from pathlib import Path

import av
import pytest
from typer.testing import CliRunner

from agent.bench.ingest import BenchConfig, make_videos
from agent.cli.app import app

FIGURES = {
    "ingest_cpu_s_per_stream_min",
    "decode_cpu_s_per_stream_min",
    "ratio",
    "redis_bytes_per_camera_hour",
    "dropped",
}


def test_bench_ingest_json_report() -> None:
    result = CliRunner().invoke(
        app,
        [
            "bench",
            "ingest",
            "--streams",
            "1",
            "--seconds",
            "2",
            "--repeats",
            "1",
            "--resolutions",
            "720p",
            "--json",
        ],
    )

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report.keys() >= FIGURES
    figures = report["by_resolution"]["720p"]
    assert figures.keys() >= FIGURES
    assert figures["dropped"] == 0
    assert figures["ratio"] > 0
    assert figures["decode_cpu_s_per_stream_min"] > 0
    assert figures["redis_bytes_per_camera_hour"] > 0
    assert report["ratio"] == figures["ratio"]
    assert set(report["by_resolution"]) == {"720p", "720p-bframes"}
    assert report["ratio_bframes"] == report["by_resolution"]["720p-bframes"]["ratio"]
    assert report["identical_frames"] == {"exact": True, "fast": False}
    assert report["min_psnr_db"]["exact"] is None
    assert 20 < report["min_psnr_db"]["fast"] < 99
    assert "street-1080p-bframes" in report["fidelity_by_video"]
    assert report["ingest_rss_cameras"] == 8
    assert 30 < report["ingest_rss_mb"] < 2000
    assert report["ingest_rss_mb_by_resolution"].keys() == {"720p"}


@pytest.mark.parametrize("bframes", [False, True])
def test_bench_videos_stagger_their_groups_of_pictures(tmp_path: Path, bframes: bool) -> None:
    """Four streams' IDR pictures 0, 2, 4 and 6 frames before each second: spread over
    the 7.5 frames of a sampling period."""
    videos = make_videos(tmp_path, "480p", BenchConfig(streams=4, seconds=2.5), bframes)
    for offset, video in zip((0, 2, 4, 6), videos, strict=True):
        with av.open(str(video)) as container:
            stream = container.streams.video[0]
            keyframes = [packet.pts for packet in container.demux(stream) if packet.is_keyframe]
        frame_pts = round(1 / (stream.time_base * 30))
        assert [pts // frame_pts for pts in keyframes if pts is not None] == [
            0,
            30 - offset,
            60 - offset,
        ]


def test_bench_ingest_rejects_unknown_resolution() -> None:
    result = CliRunner().invoke(app, ["bench", "ingest", "--resolutions", "4k", "--json"])

    assert result.exit_code == 1
    assert "unknown resolution(s) 4k" in result.stderr


def test_bench_ingest_over_whep_json_report() -> None:
    result = CliRunner().invoke(
        app,
        [
            "bench",
            "ingest",
            "--source",
            "whep",
            "--streams",
            "1",
            "--seconds",
            "2",
            "--repeats",
            "1",
            "--resolutions",
            "720p",
            "--json",
        ],
    )

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["source"] == "whep"
    assert set(report["by_resolution"]) == {"720p"}, "WebRTC carries no B-frames"
    figures = report["by_resolution"]["720p"]
    assert figures.keys() >= FIGURES
    assert figures["dropped"] == 0
    assert figures["ratio"] > 0
    assert figures["decode_cpu_s_per_stream_min"] > 0


def test_bench_ingest_rejects_unknown_source() -> None:
    result = CliRunner().invoke(app, ["bench", "ingest", "--source", "srt", "--json"])

    assert result.exit_code == 1
    assert "unknown source 'srt'" in result.stderr


def test_bench_ingest_rejects_unknown_decode_mode() -> None:
    result = CliRunner().invoke(app, ["bench", "ingest", "--decode", "lossy", "--json"])

    assert result.exit_code == 1
    assert "unknown decode mode 'lossy'" in result.stderr
