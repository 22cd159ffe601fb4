"""``vigil bench pipeline``: the control plane's cost per window with an instant engine.

Simulated cameras are written straight into a private ``redis-server``: real stamped
frames from the demo footage (448x252-class JPEGs with their motion entries), several
windows per camera. Then the real scheduler and worker run them through the queue, the
clip builder, an engine that answers at once, and the alert logic (alerts open, update,
close and get summaries). Measured: windows per second of wall time and CPU milliseconds
of this process per window. In the same run, the baseline builds the same clips alone,
so the ratio shows what the control plane adds to the clip building every window needs.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import psutil
import redis.asyncio as aioredis
from rich.console import Console
from rich.table import Table

from agent.engines.answers import Completion, ReasoningAnswer, Usage, Verdict, VerdictAnswer
from agent.engines.budget import PromptBudget
from agent.engines.clips import Clip, pixel_clip
from agent.engines.prompts import Question
from agent.engines.tokens import ByteBound
from agent.pipeline.metrics import Counters
from agent.pipeline.rules import Rule
from agent.pipeline.rules_store import RuleStore
from agent.pipeline.scheduler import Scheduler, fixed_cameras
from agent.pipeline.settings import PipelineSettings
from agent.pipeline.worker import Worker
from agent.runtime.embedded_redis import EmbeddedRedis
from agent.runtime.startup import connect_async
from streams.buffer.frames import FrameRecord, append_frame
from streams.bus.keys import WORKERS_GROUP, Keys
from streams.decode.clock import CaptureClock
from streams.ingest.demo import demo_video_path
from streams.ingest.processor import FrameProcessor
from streams.ingest.sources import SourceOptions, open_frames
from streams.picture.marks import NO_MARKS, Marks
from streams.urls import parse_camera_url

FPS = 4.0
WINDOW_S = 8.0
BENCH_PREFIX = "bench:"
RULES = [
    Rule(id="lane", question="Is a person walking in the forklift lane?", cooldown_s=0),
    Rule(id="exit", question="Is a vehicle blocking the fire exit?", cooldown_s=0),
]


@dataclass(frozen=True, slots=True)
class BenchConfig:
    cameras: int = 100
    windows_per_camera: int = 3
    worker_concurrency: int = 16
    cluster_url: str | None = None  # also run on this Redis Cluster, beside the baseline


@dataclass(frozen=True, slots=True)
class BenchResult:
    windows: int
    windows_per_s: float
    control_ms_per_window: float
    clip_ms_per_window: float
    control_to_clip_ratio: float
    redis_cpu_ms_per_window: float
    alert_events: int
    cluster_windows_per_s: float | None = None
    cluster_control_ms_per_window: float | None = None
    cluster_to_single_ratio: float | None = None  # windows/s on the cluster over one server


class InstantEngine:
    """Answers at once; detects a rule in two windows out of three, so alerts cycle."""

    budget = PromptBudget(32768, 1024, ByteBound())

    def clip(self, records: list[FrameRecord], fps: float, marks: Marks = NO_MARKS) -> Clip:
        return pixel_clip(records, fps, marks)

    async def verdicts(self, clip: Clip, questions: list[Question]) -> VerdictAnswer:
        window_index = round(clip.facts.start_s / WINDOW_S)
        detected = window_index % 3 != 2
        verdicts = tuple(
            Verdict(q.id, detected, 0.9 if detected else 0.1, None, "scripted") for q in questions
        )
        return VerdictAnswer(verdicts, None, Completion("{}", "stop", Usage(0, 0, None), 0.0))

    async def reason(self, clip: Clip, question: str) -> ReasoningAnswer:
        return _scripted_reasoning()

    async def reason_over_records(self, records: str, question: str) -> ReasoningAnswer:
        return _scripted_reasoning()

    async def close(self) -> None:
        return None


def demo_frames(count: int) -> list[FrameRecord]:
    """Real stamped frames: the demo footage through the ingest frame path."""
    processor = FrameProcessor("demo", FPS, 448 * 252, 85, CaptureClock(max_drift_s=None))
    url = parse_camera_url(str(demo_video_path()))
    records: list[FrameRecord] = []
    for item in open_frames(url, SourceOptions(realtime=False), threading.Event()):
        record = processor.process(item)
        if record is not None:
            records.append(record)
        if len(records) == count:
            return records
    raise RuntimeError("the demo footage ended early")


FRAMES_PER_WINDOW = round(WINDOW_S * FPS)


class Simulation:
    """Cameras written round by round: one window of frames per camera each round, so
    each camera has one window waiting at a time, as a camera in real time would."""

    def __init__(
        self, client: aioredis.Redis, keys: Keys, config: BenchConfig, frames: list[FrameRecord]
    ) -> None:
        self._client = client
        self.keys = keys
        self._config = config
        self._frames = frames
        rounds_s = config.windows_per_camera * WINDOW_S
        self._base_s = (int(time.time() - rounds_s - 10) // int(WINDOW_S)) * WINDOW_S
        self._written = 0  # frames written per camera so far

    @property
    def cameras(self) -> dict[str, float]:
        return {f"cam{camera:03d}": FPS for camera in range(self._config.cameras)}

    async def write_round(self, round_index: int) -> None:
        """Frames up to and including the first of the next window (which closes this one)."""
        until = (round_index + 1) * FRAMES_PER_WINDOW + 1
        pipe = self._client.pipeline(transaction=False)
        for camera_id in self.cameras:
            for index in range(self._written, until):
                source = self._frames[index % len(self._frames)]
                record = FrameRecord(
                    camera_id,
                    self._base_s + index / FPS,
                    index,
                    source.motion,
                    source.width,
                    source.height,
                    source.jpeg,
                )
                append_frame(pipe, self.keys, record, retention_s=3600)
        await pipe.execute()
        self._written = until


async def run_pipeline(
    client: aioredis.Redis, config: BenchConfig, simulation: Simulation
) -> tuple[float, float]:
    """Wall and CPU seconds of this process while windows were being processed."""
    keys = simulation.keys
    settings = PipelineSettings(
        max_window_age_s=3600,
        motion_threshold=0.0,
        scheduler_poll_s=0.02,
        worker_concurrency=config.worker_concurrency,
        jobs_max_len=100_000,
    )
    await RuleStore(client, keys).seed(RULES)
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(
            Scheduler(client, keys, settings, fixed_cameras(simulation.cameras)).run(stop)
        ),
        asyncio.create_task(Worker(client, keys, InstantEngine(), settings, "bench").run(stop)),
    ]
    wall = cpu = 0.0
    for round_index in range(config.windows_per_camera):
        await simulation.write_round(round_index)
        round_wall, round_cpu = time.perf_counter(), time.process_time()
        await _until_settled(client, keys, (round_index + 1) * config.cameras)
        wall += time.perf_counter() - round_wall
        cpu += time.process_time() - round_cpu
    stop.set()
    await asyncio.gather(*tasks)
    return wall, cpu


async def _until_settled(client: aioredis.Redis, keys: Keys, expected: int) -> None:
    """Waits until that many windows are processed and no job (summaries too) is left."""
    while True:
        counters = await Counters(client, keys).all()
        if counters.get("windows_shed_superseded", 0) or counters.get("windows_skipped_late", 0):
            raise RuntimeError(f"the simulation shed windows: {counters}")
        if counters.get("windows_processed", 0) >= expected and await _queue_empty(client, keys):
            return
        await asyncio.sleep(0.005)


async def _queue_empty(client: aioredis.Redis, keys: Keys) -> bool:
    pending = await client.xpending(keys.jobs, WORKERS_GROUP)
    groups = await client.xinfo_groups(keys.jobs)
    return pending["pending"] == 0 and all(group["lag"] == 0 for group in groups)


def clip_baseline_ms(frames: list[FrameRecord], windows: int) -> float:
    """CPU ms per window to build the same clips with nothing around them."""
    per_window = round(WINDOW_S * FPS)
    window = [frames[i % len(frames)] for i in range(per_window)]
    samples = []
    for _ in range(max(10, min(windows, 60))):
        start = time.process_time()
        pixel_clip(window, FPS)
        samples.append((time.process_time() - start) * 1000)
    return statistics.median(samples)


async def measure(config: BenchConfig) -> BenchResult:
    frames = demo_frames(64)
    with tempfile.TemporaryDirectory(prefix="vigil-bench-") as directory:
        server = EmbeddedRedis(Path(directory), append_only=False).start()
        client = aioredis.from_url(server.url)
        try:
            simulation = Simulation(client, Keys(BENCH_PREFIX), config, frames)
            redis_process = psutil.Process(server.pid)
            redis_cpu = sum(redis_process.cpu_times()[:2])
            wall, cpu = await run_pipeline(client, config, simulation)
            redis_cpu = sum(redis_process.cpu_times()[:2]) - redis_cpu
            events = await client.xlen(simulation.keys.alerts)
        finally:
            await client.aclose()
            server.stop()
    windows = config.cameras * config.windows_per_camera
    control_ms = cpu * 1000 / windows
    clip_ms = clip_baseline_ms(frames, windows)
    result = BenchResult(
        windows=windows,
        windows_per_s=round(windows / wall, 1),
        control_ms_per_window=round(control_ms, 2),
        clip_ms_per_window=round(clip_ms, 2),
        control_to_clip_ratio=round(control_ms / clip_ms, 2),
        redis_cpu_ms_per_window=round(redis_cpu * 1000 / windows, 2),
        alert_events=events,
    )
    if config.cluster_url is None:
        return result
    cluster_wall, cluster_cpu = await _on_cluster(config, frames)
    return replace(
        result,
        cluster_windows_per_s=round(windows / cluster_wall, 1),
        cluster_control_ms_per_window=round(cluster_cpu * 1000 / windows, 2),
        cluster_to_single_ratio=round(wall / cluster_wall, 2),
    )


async def _on_cluster(config: BenchConfig, frames: list[FrameRecord]) -> tuple[float, float]:
    """The same run on the Redis Cluster, under a prefix of its own removed afterwards."""
    assert config.cluster_url is not None
    client = connect_async(config.cluster_url, cluster=True)
    keys = Keys(f"{BENCH_PREFIX}{uuid.uuid4().hex[:8]}:")
    try:
        return await run_pipeline(client, config, Simulation(client, keys, config, frames))
    finally:
        async for key in client.scan_iter(match=f"{keys.prefix}*", count=1000):
            await client.delete(key)
        await client.aclose()


def main(config: BenchConfig, as_json: bool) -> None:
    result = asyncio.run(measure(config))
    if as_json:
        print(json.dumps(asdict(result)))
        return
    table = Table("measure", "value", title=f"vigil bench pipeline: {config.cameras} cameras")
    for name, value in asdict(result).items():
        table.add_row(name, str(value))
    Console().print(table)


def _scripted_reasoning() -> ReasoningAnswer:
    text = "<think>\n-\n</think>\n\n<answer>\nscripted\n</answer>"
    return ReasoningAnswer("-", "scripted", None, Completion(text, "stop", Usage(0, 0, None), 0.0))
