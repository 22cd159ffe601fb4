"""``vigil bench ingest``: the CPU ingest costs beside a bare decode of the same streams.

For each resolution, N H.264 30 fps test videos are generated into a temporary directory,
without B-frames and (file source) with x264's default B-frames, their groups of pictures
staggered over a sampling period. The real ingest service
(unpaced, a private ``redis-server``, the configured decode mode) reads them concurrently
until every camera has received one pass of the video; then a default bare PyAV decode of
the same files (FFmpeg's default threading, every frame) decodes the same number of frames
per stream in N threads. CPU is this process's (all threads) plus, for ingest, the Redis
server's. The two alternate ``repeats`` times and the medians are compared. Redis bytes
per camera-hour come from ``MEMORY USAGE`` of each camera's frame stream over the content
time it holds. Then each decode mode's kept frames are compared with a full decode's
(agent/bench/decode_fidelity.py) on the bench videos and on real street footage, and the
memory of a ``vigil ingest`` process with 8 cameras is measured
(agent/bench/ingest_memory.py).

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
from typing import cast

import av
import psutil
import redis
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table

from agent.bench import whep as whep_server
from agent.bench.decode_fidelity import MODES, Fidelity, fidelity, worst
from agent.bench.ingest_memory import MemoryBenchError, ingest_rss_mb
from agent.runtime.embedded_redis import EmbeddedRedis
from agent.runtime.startup import connect
from streams.bus.keys import Keys
from streams.config import CameraConfig, CameraSpec, DecodeMode, IngestSettings, resolve_camera
from streams.ingest.demo import demo_video_path
from streams.ingest.service import IngestService

SOURCE_FPS = 30
SOURCES = ("file", "whep")
RESOLUTIONS = {"480p": (854, 480), "720p": (1280, 720), "1080p": (1920, 1080)}
POLL_S = 0.05  # the cameras overshoot a little; the baseline decodes the same counts
RETENTION_S = 7 * 24 * 3600.0  # nothing is trimmed during a run
KEYS = Keys("bench:")
BFRAMES_SUFFIX = "-bframes"
MEMORY_CAMERAS = 8


class BenchError(RuntimeError):
    """The benchmark could not run or its run was not clean (drops, trimmed frames)."""


@dataclass(frozen=True, slots=True)
class BenchConfig:
    streams: int = 4
    seconds: float = 20.0
    resolutions: tuple[str, ...] = ("720p", "1080p")
    repeats: int = 3
    source: str = "file"  # or "whep": the same videos over WebRTC
    decode: str = "exact"  # a DecodeMode, checked by run_bench

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
    by_resolution: dict[str, Figures]  # "720p", "720p-bframes", …
    fidelity: dict[DecodeMode, Fidelity]  # kept frames against a full decode
    fidelity_by_video: dict[str, dict[DecodeMode, Fidelity]]  # video -> mode -> figures
    ingest_rss_mb: dict[str, float]  # resolution -> peak RSS with MEMORY_CAMERAS cameras


# --- test videos -------------------------------------------------------------------------


def make_videos(
    directory: Path, resolution: str, config: BenchConfig, bframes: bool = False
) -> list[Path]:
    """One video per stream, each with its own hue so no two streams are identical;
    ``bframes``: x264's default B-frames (3 between references), else none. The streams'
    groups of pictures start at staggered frames (``gop_offset_frames``)."""
    if shutil.which("ffmpeg") is None:
        raise BenchError("ffmpeg is not installed (apt-get install ffmpeg)")
    width, height = RESOLUTIONS[resolution]
    paths = []
    for index in range(config.streams):
        path = directory / f"{resolution}{BFRAMES_SUFFIX if bframes else ''}-{index}.mp4"
        hue_deg = index * 360 // config.streams
        source = f"testsrc2=size={width}x{height}:rate={SOURCE_FPS}"
        offset = gop_offset_frames(index, config.streams)
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
                *([] if bframes else ["-bf", "0"]),
                "-g",
                str(SOURCE_FPS),
                "-force_key_frames",
                f"expr:eq(mod(n+{offset},{SOURCE_FPS}),0)",
                "-pix_fmt",
                "yuv420p",
                str(path),
            ],
            check=True,
        )
        paths.append(path)
    return paths


def gop_offset_frames(index: int, streams: int) -> int:
    """How many frames before each whole second stream ``index``'s keyframes fall (its
    first group of pictures is that much shorter): the streams' groups of pictures are
    spread over one sampling period, as real cameras' are against the sampling grid.
    How much of a GOP's tail goes undecoded depends on where its last kept frame falls;
    without the spread, all streams of a run would share one random position, and runs
    would differ by up to a fifth of the decode."""
    frames_per_sample = SOURCE_FPS / IngestSettings().fps
    return round(index * frames_per_sample / streams)


# --- ingest ------------------------------------------------------------------------------


def bench_settings(config: BenchConfig) -> IngestSettings:
    """Default ingest settings, except a queue that never drops and no trimming."""
    sampled = config.streams * (config.seconds + 2) * IngestSettings().fps
    return IngestSettings(
        retention_s=RETENTION_S,
        queue_frames=int(sampled) + 64,
        decode=cast(DecodeMode, config.decode),
    )


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
    """A default bare decode: every frame, FFmpeg's default threading (looping the file
    when needed)."""
    decoded = 0
    while decoded < frames:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
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


def bench_resolution(
    resolution: str, config: BenchConfig, workdir: Path, bframes: bool = False
) -> Figures:
    videos = make_videos(workdir, resolution, config, bframes)
    ingest: list[float] = []
    decode: list[float] = []
    runs: list[IngestRun] = []
    with camera_urls(videos, config.source) as urls:
        for repeat in range(config.repeats):
            name = f"{resolution}{BFRAMES_SUFFIX if bframes else ''}"
            run = run_ingest(urls, config, workdir / f"redis-{name}-{repeat}")
            runs.append(run)
            ingest.append(per_stream_minute(run.cpu_s + run.redis_cpu_s, run.frames))
            baseline_s = run_baseline(config.source, videos, urls, run.frames)
            decode.append(per_stream_minute(baseline_s, run.frames))
    dropped = sum(run.dropped for run in runs)
    if dropped:
        raise BenchError(f"{videos[0].stem}: ingest dropped {dropped} frames; the figures are void")
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
    if config.decode not in MODES:
        raise BenchError(f"unknown decode mode {config.decode!r}; known: {', '.join(MODES)}")
    with tempfile.TemporaryDirectory(prefix="vigil-bench-ingest-") as directory:
        workdir = Path(directory)
        warm_up_cpu_s = warm_up(workdir)
        results = {}
        for resolution in config.resolutions:
            # WebRTC carries no B-frames: over WHEP only the streams without them.
            for bframes in (False, True) if config.source == "file" else (False,):
                name = f"{resolution}{BFRAMES_SUFFIX if bframes else ''}"
                if progress is not None:
                    progress.print(
                        f"measuring {name} over {config.source} ({config.streams} streams, "
                        f"{config.seconds:g} s each, {config.repeats} repeats, "
                        f"decode {config.decode})"
                    )
                results[name] = bench_resolution(resolution, config, workdir, bframes)
        if progress is not None:
            progress.print("comparing the decode modes' kept frames with a full decode")
        by_video = {
            path.stem: {mode: fidelity(path, mode) for mode in MODES}
            for path in fidelity_videos(workdir, config)
        }
        rss_mb = {}
        for resolution in config.resolutions:
            if progress is not None:
                progress.print(
                    f"memory of a vigil ingest process with {MEMORY_CAMERAS} {resolution} cameras"
                )
            videos = sorted(workdir.glob(f"{resolution}-*.mp4"))
            rss_mb[resolution] = ingest_rss_mb(
                videos, MEMORY_CAMERAS, workdir / f"rss-{resolution}"
            )
    overall = {mode: worst([figures[mode] for figures in by_video.values()]) for mode in MODES}
    return BenchResult(warm_up_cpu_s, results, overall, by_video, rss_mb)


def fidelity_videos(workdir: Path, config: BenchConfig) -> list[Path]:
    """The first bench video of each kind, and the demo camera's real street footage
    re-encoded at 1080p with x264's default B-frames."""
    firsts = sorted(workdir.glob("*-0.mp4"))
    street = workdir / "street-1080p-bframes.mp4"
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-stream_loop", "-1", "-i",
         str(demo_video_path()), "-t", f"{config.seconds}", "-vf", "scale=1920:1080", "-an",
         "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", str(street)],
        check=True,
    )  # fmt: skip
    return [*firsts, street]


# --- output ------------------------------------------------------------------------------


def summary(config: BenchConfig, result: BenchResult) -> dict[str, object]:
    """Overall figures are the worst stream kind's: the highest ratio among the streams
    without B-frames (``ratio``) and among those with them (``ratio_bframes``), the most
    Redis bytes, the lowest PSNR of each decode mode."""
    results = result.by_resolution
    plain = {name: figures for name, figures in results.items() if BFRAMES_SUFFIX not in name}
    bframes = {name: figures for name, figures in results.items() if BFRAMES_SUFFIX in name}
    worst_plain = max(plain, key=lambda name: plain[name].ratio)
    overall = asdict(plain[worst_plain])
    overall["redis_bytes_per_camera_hour"] = max(
        figures.redis_bytes_per_camera_hour for figures in results.values()
    )
    overall["dropped"] = sum(figures.dropped for figures in results.values())
    return {
        **overall,
        "ratio_bframes": max((f.ratio for f in bframes.values()), default=None),
        "min_psnr_db": {mode: figures.min_psnr_db for mode, figures in result.fidelity.items()},
        "identical_frames": {mode: f.identical for mode, f in result.fidelity.items()},
        "ingest_rss_mb": max(result.ingest_rss_mb.values()),
        "ingest_rss_cameras": MEMORY_CAMERAS,
        "ingest_rss_mb_by_resolution": result.ingest_rss_mb,
        "overall_from": f"CPU and ratio of {worst_plain} (the worst ratio without B-frames); "
        "ratio_bframes: the worst with them; Redis bytes: the maximum",
        "source": config.source,
        "decode": config.decode,
        "streams": config.streams,
        "seconds_per_stream": config.seconds,
        "repeats": config.repeats,
        "cpus": psutil.cpu_count(),
        "warm_up_cpu_s": result.warm_up_cpu_s,
        "by_resolution": {name: asdict(figures) for name, figures in results.items()},
        "fidelity_by_video": {
            video: {mode: asdict(figures) for mode, figures in modes.items()}
            for video, modes in result.fidelity_by_video.items()
        },
    }


def print_table(config: BenchConfig, result: BenchResult, console: Console) -> None:
    table = Table(
        "streams",
        "ingest CPU s / stream-min",
        "decode CPU s / stream-min",
        "ratio",
        "ratio per repeat",
        "Redis MB / camera-hour",
        "dropped",
        title=f"vigil bench ingest (decode {config.decode})",
        caption=f"{config.source}: {config.streams} streams x {config.seconds:g} s, medians of "
        f"{config.repeats}; once-per-process warm-up "
        f"{result.warm_up_cpu_s:.1f} CPU s, not counted; vigil ingest with "
        f"{MEMORY_CAMERAS} cameras: "
        + ", ".join(f"{mb:.0f} MB RSS at {name}" for name, mb in result.ingest_rss_mb.items()),
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
    quality = Table("video", *(f"{mode}: min / median PSNR dB" for mode in MODES))
    for video, modes in result.fidelity_by_video.items():
        quality.add_row(video, *(_psnr_cell(modes[mode]) for mode in MODES))
    console.print(quality)


def _psnr_cell(figures: Fidelity) -> str:
    if figures.identical:
        return f"identical ({figures.frames} frames)"
    return f"{figures.min_psnr_db:.1f} / {figures.median_psnr_db:.1f}"


def main(config: BenchConfig, as_json: bool) -> None:
    """Runs the bench and prints a table, or exactly one JSON object with ``as_json``."""
    errors = Console(stderr=True)
    try:
        result = run_bench(config, progress=None if as_json else errors)
    except (BenchError, MemoryBenchError, subprocess.CalledProcessError) as error:
        errors.print(f"vigil bench ingest: {error}", markup=False)
        raise SystemExit(1) from None
    if as_json:
        print(json.dumps(summary(config, result), indent=2))
    else:
        print_table(config, result, Console(width=120))
