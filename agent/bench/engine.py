"""``vigil bench engine``: the worker's cost per window beside a naive baseline and a model call.

Real street footage (the demo video) is sampled and stamped like live ingest and stored
in a private Redis. Per window, the worker reads the frames back (XRANGE) and builds the
request payload: RGB frames + metadata + prompt for the in-process engine, the JSON body
with the JPEG data URL for the HTTP engine. The baseline does the same work the obvious
way (PIL decode, full-frame copy, strip drawn from scratch, PIL encode). The model call is
one verdict call on the tiny random-weight model on this CPU, not the real 7B. The same
payloads with two zones outlined, and with the clip cropped to one, give what a rule about
a place adds per window.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import redis
from PIL import Image, ImageDraw

from agent.engines.clips import jpeg_clip, pixel_clip
from agent.engines.local import LocalEngine
from agent.engines.openai_http import OpenAIHttpEngine
from agent.engines.prompts import Question, verdict_prompt
from agent.engines.settings import EngineSettings
from agent.engines.testmodel import build_test_model
from agent.runtime.embedded_redis import EmbeddedRedis
from streams.buffer.frames import FrameRecord, append_frame, read_frames
from streams.bus.keys import Keys
from streams.ingest.file_sampling import Sampling, sample_file
from streams.picture.marks import NO_MARKS, Marks, marks_for
from streams.picture.overlay import (
    STRIP_HEIGHT,
    add_strip,
    clip_time_text,
    strip_font,
    wall_time_text,
)
from streams.picture.sizing import picture_size
from streams.zones import Zone

QUESTIONS = [
    Question("person", "Is a person in the road?"),
    Question("blocked", "Is a vehicle stopped in the bike lane?"),
    Question("crash", "Has a collision happened?"),
]
KEYS = Keys("vigil-bench:")
BENCH_ZONES = (
    Zone(name="lane", points=[(0.05, 0.6), (0.5, 0.6), (0.6, 0.98), (0.05, 0.98)]),
    Zone(name="door", points=[(0.65, 0.1), (0.95, 0.1), (0.95, 0.55), (0.65, 0.55)]),
)
OUTLINED = marks_for(list(BENCH_ZONES), crop=False)
CROPPED = marks_for(list(BENCH_ZONES[:1]), crop=True)
SOURCE_SIZE = (1280, 720)  # a 16:9 camera


@dataclass(frozen=True, slots=True)
class BenchConfig:
    window_frames: int = 32
    fps: float = 4.0
    max_pixels: int = 448 * 252
    jpeg_quality: int = 85
    repeats: int = 30
    model_call: bool = True


@dataclass(frozen=True, slots=True)
class EngineBench:
    frame_width: int
    frame_height: int
    window_frames: int
    vision_tokens_per_window: int
    worker_ms_per_window: float  # the slower of the two engine paths
    worker_ms_in_process: float
    worker_ms_http: float
    baseline_ms_per_window: float
    speedup_vs_baseline: float
    redis_read_ms: float
    zones_overlay_ms_per_window: float  # two zones outlined, the slower path's extra time
    zones_crop_ms_per_window: float  # cropped to one zone and outlined, likewise
    model: str
    model_call_ms: float | None
    worker_share_of_model_call: float | None


def run(config: BenchConfig) -> EngineBench:
    footage = _footage(config)
    width, height = footage[0].width, footage[0].height
    with tempfile.TemporaryDirectory(prefix="vigil-bench-") as scratch:
        with EmbeddedRedis(Path(scratch) / "redis", append_only=False) as server:
            client = redis.Redis.from_url(server.url)
            start_s, end_s = _store(client, footage)
            read = _timed(
                config.repeats, lambda: read_frames(client, KEYS, "bench", start_s, end_s)
            )
            engine = OpenAIHttpEngine(EngineSettings(kind="openai"))  # builds bodies only
            pixels, outlined_pixels, cropped_pixels = (
                _timed(
                    config.repeats,
                    _in_process_payload(client, start_s, end_s, config, marks),
                )
                for marks in (NO_MARKS, OUTLINED, CROPPED)
            )
            http, outlined_http, cropped_http = (
                _timed(
                    config.repeats,
                    _http_payload(client, engine, start_s, end_s, config, marks),
                )
                for marks in (NO_MARKS, OUTLINED, CROPPED)
            )
            asyncio.run(engine.close())
            baseline = _timed(config.repeats, lambda: _baseline(client, start_s, end_s, config))
            client.close()
        model_ms = _model_call_ms(footage, config, Path(scratch)) if config.model_call else None
    worker = max(pixels, http)
    return EngineBench(
        width, height, config.window_frames, _vision_tokens(config.window_frames, width, height),
        round(worker, 2), round(pixels, 2), round(http, 2), round(baseline, 2),
        round(baseline / worker, 2), round(read, 2),
        round(max(outlined_pixels - pixels, outlined_http - http), 2),
        round(max(cropped_pixels - pixels, cropped_http - http), 2),
        "tiny random-weight Qwen2.5-VL on CPU",
        None if model_ms is None else round(model_ms, 1),
        None if model_ms is None else round(worker / model_ms, 4),
    )  # fmt: skip


def main(config: BenchConfig, as_json: bool) -> None:
    if as_json:
        with _stdout_to_stderr():  # vLLM and its workers log to stdout
            result = run(config)
    else:
        result = run(config)
    if as_json:
        print(json.dumps(asdict(result)))
        return
    for line in report_lines(result):
        print(line)


def report_lines(result: EngineBench) -> list[str]:
    lines = [
        f"window: {result.window_frames} frames of {result.frame_width}x{result.frame_height} "
        f"(strip included) -> {result.vision_tokens_per_window} vision tokens",
        f"redis read (XRANGE):            {result.redis_read_ms:7.2f} ms",
        f"worker, in-process payload:     {result.worker_ms_in_process:7.2f} ms per window",
        f"worker, HTTP payload:           {result.worker_ms_http:7.2f} ms per window",
        f"baseline (naive PIL redraw):    {result.baseline_ms_per_window:7.2f} ms per window "
        f"({result.speedup_vs_baseline:.2f}x slower than the worker)",
        f"two zones outlined:             {result.zones_overlay_ms_per_window:+7.2f} ms per window",
        f"cropped to a zone, outlined:    {result.zones_crop_ms_per_window:+7.2f} ms per window",
    ]
    if result.model_call_ms is not None and result.worker_share_of_model_call is not None:
        lines.append(
            f"one verdict call, {result.model}: {result.model_call_ms:.0f} ms "
            f"-> worker share {100 * result.worker_share_of_model_call:.1f}% "
            "(TINY TEST MODEL: the real 7B on a GPU is slower per call)"
        )
    return lines


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _footage(config: BenchConfig) -> list[FrameRecord]:
    from streams.ingest.demo import demo_video_path

    sampling = Sampling(config.fps, config.max_pixels, config.jpeg_quality)
    records = sample_file(demo_video_path(), sampling, config.window_frames)
    if len(records) < config.window_frames:
        raise RuntimeError(f"the demo video gave {len(records)} frames, not {config.window_frames}")
    width, height = picture_size(*SOURCE_SIZE, config.max_pixels)
    return [_reframed(record, width, height, config.jpeg_quality) for record in records]


def _reframed(record: FrameRecord, width: int, height: int, quality: int) -> FrameRecord:
    """The demo footage (2.35:1) as a 16:9 camera would store it at this pixel budget."""
    stored: npt.NDArray[np.uint8] = cv2.imdecode(  # type: ignore[assignment]
        np.frombuffer(record.jpeg, np.uint8), cv2.IMREAD_COLOR_BGR
    )
    picture: npt.NDArray[np.uint8] = cv2.resize(  # type: ignore[assignment]
        stored[:-STRIP_HEIGHT], (width, height), interpolation=cv2.INTER_AREA
    )
    stamped = add_strip(picture, wall_time_text(record.ts), record.seq)
    ok, jpeg = cv2.imencode(".jpg", stamped, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return dataclasses.replace(
        record, camera_id="bench", width=width, height=height + STRIP_HEIGHT, jpeg=jpeg.tobytes()
    )


def _store(client: redis.Redis, records: list[FrameRecord]) -> tuple[float, float]:
    pipe = client.pipeline()
    for record in records:
        append_frame(pipe, KEYS, record, retention_s=3600)
    pipe.execute()
    return records[0].ts, records[-1].ts + 0.001


def _in_process_payload(
    client: redis.Redis, start_s: float, end_s: float, config: BenchConfig, marks: Marks
) -> Callable[[], object]:
    """Builds the in-process engine's payload for the window, when called."""

    def build() -> object:
        clip = pixel_clip(read_frames(client, KEYS, "bench", start_s, end_s), config.fps, marks)
        prompt = verdict_prompt(clip.facts, QUESTIONS)
        metadata = {"fps": clip.facts.fps, "frames_indices": list(range(clip.facts.frame_count))}
        return clip.frames, metadata, prompt

    return build


def _http_payload(
    client: redis.Redis,
    engine: OpenAIHttpEngine,
    start_s: float,
    end_s: float,
    config: BenchConfig,
    marks: Marks,
) -> Callable[[], bytes]:
    """Builds the HTTP engine's request body for the window, when called."""

    def build() -> bytes:
        records = read_frames(client, KEYS, "bench", start_s, end_s)
        clip = jpeg_clip(records, config.fps, marks=marks)
        return engine.request_body(clip, verdict_prompt(clip.facts, QUESTIONS))

    return build


def _baseline(
    client: redis.Redis, start_s: float, end_s: float, config: BenchConfig
) -> list[bytes]:
    """The obvious way: PIL decode, copy out the picture, draw a new strip, PIL encode."""
    out = []
    for index, record in enumerate(read_frames(client, KEYS, "bench", start_s, end_s)):
        picture = np.asarray(Image.open(io.BytesIO(record.jpeg)).convert("RGB"))[:-STRIP_HEIGHT]
        text = clip_time_text(index / config.fps)
        strip = Image.new("RGB", (picture.shape[1], STRIP_HEIGHT))
        centre_x = picture.shape[1] * (1 if index % 2 == 0 else 3) / 4
        ImageDraw.Draw(strip).text(
            (centre_x, STRIP_HEIGHT / 2), text, fill="white", font=strip_font(), anchor="mm"
        )
        stamped = np.concatenate([picture, np.asarray(strip)])
        buffer = io.BytesIO()
        Image.fromarray(stamped).save(buffer, format="JPEG", quality=90)
        out.append(buffer.getvalue())
    return out


def _model_call_ms(footage: list[FrameRecord], config: BenchConfig, scratch: Path) -> float:
    model = build_test_model(scratch / "model")
    settings = EngineSettings(
        model=str(model), enforce_eager=True, gpu_memory_utilization=0.1, max_model_len=8192
    )
    return asyncio.run(_one_call_ms(settings, footage, config))


async def _one_call_ms(
    settings: EngineSettings, footage: list[FrameRecord], config: BenchConfig
) -> float:
    engine = LocalEngine.start(settings)
    try:
        clip = engine.clip(footage, config.fps)
        await engine.verdicts(clip, QUESTIONS)  # warm-up
        timings = []
        for _ in range(3):
            answer = await engine.verdicts(clip, QUESTIONS)
            timings.append(answer.completion.latency_ms)
        return statistics.median(timings)
    finally:
        await engine.close()


def _vision_tokens(frames: int, width: int, height: int) -> int:
    return (frames + 1) // 2 * (height // 28) * (width // 28)


def _timed(repeats: int, work: Callable[[], object]) -> float:
    work()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)
