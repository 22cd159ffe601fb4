"""``vigil bench ingest``: the CPU ingest costs beside a bare decode of the same streams.

For each resolution, N H.264 30 fps test videos are generated into a temporary directory.
The real ingest service (unpaced, a private ``redis-server``) reads them concurrently
until every camera has decoded one pass of the video; then a bare PyAV decode of the same
files decodes the same number of frames per stream in N threads, with the same decoder
threading. CPU is this process's (all threads) plus, for ingest, the Redis server's. The
two alternate ``repeats`` times and the medians are compared. Redis bytes per camera-hour
come from ``MEMORY USAGE`` of each camera's frame stream over the content time it holds.

With ``source="whep"`` the same videos are served over WebRTC by a local WHEP endpoint
process (agent/bench/whep.py), in real time; ingest reads them as ``whep://`` cameras
and the baseline is a bare aiortc client that receives and decodes the same streams.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import av
import psutil
import redis
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table

from agent.bench import whep as whep_server
from agent.runtime.embedded_redis import EmbeddedRedis
from agent.runtime.startup import connect
from streams.config import CameraConfig, CameraSpec, IngestSettings, resolve_camera
from streams.ingest import IngestService
from streams.keys import Keys

SOURCE_FPS = 30
SOURCES = ("file", "whep")
RESOLUTIONS = {"480p": (854, 480), "720p": (1280, 720), "1080p": (1920, 1080)}
POLL_S = 0.05  # the cameras overshoot a little; the baseline decodes the same counts
RETENTION_S = 7 * 24 * 3600.0  # nothing is trimmed during a run
KEYS = Keys("bench:")


class BenchError(RuntimeError):
    """The benchmark could not run or its run was not clean (drops, trimmed frames)."""


@dataclass(frozen=True, slots=True)
class BenchConfig:
    streams: int = 4
    seconds: float = 20.0
    resolutions: tuple[str, ...] = ("720p", "1080p")
    repeats: int = 3
    source: str = "file"  # or "whep": the same videos over WebRTC

    @property
    def frames_per_stream(self) -> int:
        return round(self.seconds * SOURCE_FPS)


@dataclass(frozen=True, slots=True)
class IngestRun:
    cpu_s: float  # this process, all threads
    redis_cpu_s: float  # the redis-server process
    frames: list[int]  # frames decoded per camera
    dropped: int
    redis_bytes_per_camera_hour: float


@dataclass(frozen=True, slots=True)
class Figures:
    ingest_cpu_s_per_stream_min: float
    decode_cpu_s_per_stream_min: float
    ratio: float
    redis_bytes_per_camera_hour: float
    dropped: int
    repeat_ratios: tuple[float, ...]  # ingest / decode of each alternation, for the spread


@dataclass(frozen=True, slots=True)
class BenchResult:
    warm_up_cpu_s: float  # once per process, not per stream: excluded from the figures
    by_resolution: dict[str, Figures]


# --- test videos -------------------------------------------------------------------------


def make_videos(directory: Path, resolution: str, config: BenchConfig) -> list[Path]:
    """One video per stream, each with its own hue so no two streams are identical."""
    if shutil.which("ffmpeg") is None:
        raise BenchError("ffmpeg is not installed (apt-get install ffmpeg)")
    width, height = RESOLUTIONS[resolution]
    paths = []
    for index in range(config.streams):
        path = directory / f"{resolution}-{index}.mp4"
        hue_deg = index * 360 // config.streams
        source = f"testsrc2=size={width}x{height}:rate={SOURCE_FPS}"
        subprocess.run(
            [
                "ffmpeg",
                "-loglevel",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                source,
                "-t",
                f"{config.seconds}",
                "-vf",
                f"hue=h={hue_deg}",
                "-an",
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                "-bf",
                "0",
                "-g",
                str(SOURCE_FPS),
                "-pix_fmt",
                "yuv420p",
                str(path),
            ],
            check=True,
        )
        paths.append(path)
    return paths


# --- ingest ------------------------------------------------------------------------------


def bench_settings(config: BenchConfig) -> IngestSettings:
    """Default ingest settings, except a queue that never drops and no trimming."""
    sampled = config.streams * (config.seconds + 2) * IngestSettings().fps
    return IngestSettings(retention_s=RETENTION_S, queue_frames=int(sampled) + 64)


def camera_specs(urls: list[str], settings: IngestSettings) -> list[CameraSpec]:
    return [
        resolve_camera(CameraConfig(id=f"bench-{index}", url=SecretStr(url)), settings)
        for index, url in enumerate(urls)
    ]


@contextmanager
def camera_urls(videos: list[Path], source: str) -> Iterator[list[str]]:
    """The cameras' URLs for the videos: the files themselves, or WHEP endpoints."""
    if source == "whep":
        with whep_server.served(videos) as urls:
            yield urls
    else:
        yield [path.as_uri() for path in videos]


def run_baseline(source: str, videos: list[Path], urls: list[str], frames: list[int]) -> float:
    if source == "whep":
        return whep_server.run_decode(urls, frames)
    return run_decode(videos, frames)


def run_ingest(urls: list[str], config: BenchConfig, redis_dir: Path) -> IngestRun:
    with EmbeddedRedis(redis_dir, append_only=False) as server, connect(server.url) as client:
        server_process = psutil.Process(server_pid(server))
        settings = bench_settings(config)
        specs = camera_specs(urls, settings)
        cpu_at, redis_at = time.process_time(), cpu_seconds(server_process)
        service = IngestService(specs, client, KEYS, settings, realtime=False).start()
        try:
            wait_for_frames(service, config.frames_per_stream)
        finally:
            service.stop()
        cpu_s = time.process_time() - cpu_at
        redis_cpu_s = cpu_seconds(server_process) - redis_at
        return IngestRun(
            cpu_s=cpu_s,
            redis_cpu_s=redis_cpu_s,
            frames=counter(service, "frames_in"),
            dropped=sum(counter(service, "dropped")),
            redis_bytes_per_camera_hour=stored_bytes_per_hour(client, specs, service),
        )


def warm_up(workdir: Path) -> float:
    """An unmeasured one-stream, one-second ingest run; its CPU seconds.

    It pays what a process pays once, on its first frame (lazy imports, fonts), so the
    measured runs see only what grows with streams and minutes.
    """
    config = BenchConfig(streams=1, seconds=1.0)
    directory = workdir / "warm-up"
    directory.mkdir()
    videos = make_videos(directory, "720p", config)
    return run_ingest([path.as_uri() for path in videos], config, directory / "redis").cpu_s


def server_pid(server: EmbeddedRedis) -> int:
    process = server._process  # the server this run started, never a shared one
    if process is None:
        raise BenchError(f"a redis-server was already serving {server.socket_path}")
    return process.pid


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def counter(service: IngestService, name: str) -> list[int]:
    now = time.time()
    return [int(health.snapshot(now)[name]) for health in service.healths.values()]


def wait_for_frames(service: IngestService, frames: int) -> None:
    """Polls until every camera has decoded ``frames``; fails fast on a camera error."""
    while True:
        now = time.time()
        records = [health.snapshot(now) for health in service.healths.values()]
        if min(int(record["frames_in"]) for record in records) >= frames:
            return
        errors = [record["last_error"] for record in records if record["last_error"]]
        if errors:
            raise BenchError(f"a camera failed during the benchmark: {errors[0]}")
        time.sleep(POLL_S)


def stored_bytes_per_hour(
    client: redis.Redis, specs: list[CameraSpec], service: IngestService
) -> float:
    """Mean over cameras of the frame stream's memory over the content hours it holds."""
    stored = counter(service, "frames_out")
    per_hour = []
    for spec, frames_out in zip(specs, stored, strict=True):
        key = KEYS.frames(spec.id)
        entries = int(client.xlen(key))
        if entries == 0:
            raise BenchError(f"{spec.id}: no frames were stored")
        if entries != frames_out:
            raise BenchError(f"{spec.id}: {frames_out} frames stored but {entries} in Redis")
        memory = int(client.memory_usage(key, samples=0) or 0)
        per_hour.append(memory / (entries / spec.fps / 3600))
    return statistics.fmean(per_hour)


# --- baseline ----------------------------------------------------------------------------


def decode_frames(path: Path, frames: int) -> None:
    """Decode only, as ingest's file source does it (looping the file when needed)."""
    decoded = 0
    while decoded < frames:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for _ in container.decode(stream):
                decoded += 1
                if decoded >= frames:
                    break


def run_decode(videos: list[Path], frames: list[int]) -> float:
    """CPU seconds of decoding each video's frame count, all videos at once."""
    threads = [
        threading.Thread(target=decode_frames, args=(path, count), name=f"bench-decode-{index}")
        for index, (path, count) in enumerate(zip(videos, frames, strict=True))
    ]
    cpu_at = time.process_time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.process_time() - cpu_at


# --- one resolution, the whole bench -----------------------------------------------------


def per_stream_minute(cpu_s: float, frames: list[int]) -> float:
    return cpu_s / (sum(frames) / SOURCE_FPS / 60)


def bench_resolution(resolution: str, config: BenchConfig, workdir: Path) -> Figures:
    videos = make_videos(workdir, resolution, config)
    ingest: list[float] = []
    decode: list[float] = []
    runs: list[IngestRun] = []
    with camera_urls(videos, config.source) as urls:
        for repeat in range(config.repeats):
            run = run_ingest(urls, config, workdir / f"redis-{resolution}-{repeat}")
            runs.append(run)
            ingest.append(per_stream_minute(run.cpu_s + run.redis_cpu_s, run.frames))
            baseline_s = run_baseline(config.source, videos, urls, run.frames)
            decode.append(per_stream_minute(baseline_s, run.frames))
    dropped = sum(run.dropped for run in runs)
    if dropped:
        raise BenchError(f"{resolution}: ingest dropped {dropped} frames; the figures are void")
    ingest_median, decode_median = statistics.median(ingest), statistics.median(decode)
    return Figures(
        ingest_cpu_s_per_stream_min=ingest_median,
        decode_cpu_s_per_stream_min=decode_median,
        ratio=ingest_median / decode_median,
        redis_bytes_per_camera_hour=statistics.median(
            run.redis_bytes_per_camera_hour for run in runs
        ),
        dropped=dropped,
        repeat_ratios=tuple(a / b for a, b in zip(ingest, decode, strict=True)),
    )


def run_bench(config: BenchConfig, progress: Console | None = None) -> BenchResult:
    unknown = [name for name in config.resolutions if name not in RESOLUTIONS]
    if unknown:
        raise BenchError(
            f"unknown resolution(s) {', '.join(unknown)}; known: {', '.join(RESOLUTIONS)}"
        )
    if config.source not in SOURCES:
        raise BenchError(f"unknown source {config.source!r}; known: {', '.join(SOURCES)}")
    with tempfile.TemporaryDirectory(prefix="vigil-bench-ingest-") as workdir:
        warm_up_cpu_s = warm_up(Path(workdir))
        results = {}
        for resolution in config.resolutions:
            if progress is not None:
                progress.print(
                    f"measuring {resolution} over {config.source} ({config.streams} streams, "
                    f"{config.seconds:g} s each, {config.repeats} repeats)"
                )
            results[resolution] = bench_resolution(resolution, config, Path(workdir))
    return BenchResult(warm_up_cpu_s, results)


# --- output ------------------------------------------------------------------------------


def summary(config: BenchConfig, result: BenchResult) -> dict[str, object]:
    """Overall figures are the worst resolution's: the highest ratio, the most bytes."""
    results = result.by_resolution
    worst = max(results, key=lambda name: results[name].ratio)
    overall = asdict(results[worst])
    overall["redis_bytes_per_camera_hour"] = max(
        figures.redis_bytes_per_camera_hour for figures in results.values()
    )
    overall["dropped"] = sum(figures.dropped for figures in results.values())
    return {
        **overall,
        "overall_from": f"CPU and ratio of {worst} (the worst ratio); Redis bytes: the maximum",
        "source": config.source,
        "streams": config.streams,
        "seconds_per_stream": config.seconds,
        "repeats": config.repeats,
        "cpus": psutil.cpu_count(),
        "warm_up_cpu_s": result.warm_up_cpu_s,
        "by_resolution": {name: asdict(figures) for name, figures in results.items()},
    }


def print_table(config: BenchConfig, result: BenchResult, console: Console) -> None:
    table = Table(
        "resolution",
        "ingest CPU s / stream-min",
        "decode CPU s / stream-min",
        "ratio",
        "ratio per repeat",
        "Redis MB / camera-hour",
        "dropped",
        title="vigil bench ingest (target: ratio <= 1.15)",
        caption=f"{config.source}: {config.streams} streams x {config.seconds:g} s, medians of "
        f"{config.repeats}; once-per-process warm-up "
        f"{result.warm_up_cpu_s:.1f} CPU s, not counted",
    )
    for name, figures in result.by_resolution.items():
        table.add_row(
            name,
            f"{figures.ingest_cpu_s_per_stream_min:.2f}",
            f"{figures.decode_cpu_s_per_stream_min:.2f}",
            f"{figures.ratio:.3f}",
            " ".join(f"{ratio:.2f}" for ratio in figures.repeat_ratios),
            f"{figures.redis_bytes_per_camera_hour / 1e6:.1f}",
            str(figures.dropped),
        )
    console.print(table)


def main(config: BenchConfig, as_json: bool) -> None:
    """Runs the bench and prints a table, or exactly one JSON object with ``as_json``."""
    errors = Console(stderr=True)
    try:
        result = run_bench(config, progress=None if as_json else errors)
    except (BenchError, subprocess.CalledProcessError) as error:
        errors.print(f"vigil bench ingest: {error}", markup=False)
        raise SystemExit(1) from None
    if as_json:
        print(json.dumps(summary(config, result), indent=2))
    else:
        print_table(config, result, Console(width=120))
