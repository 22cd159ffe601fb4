"""``vigil ask``: one free question about a local video file or a camera's recent frames.

A file is sampled, resized and stamped exactly like live ingest (the same source and
frame processor), so the model sees what it would see from a camera. The answer uses the
reasoning mode (Cosmos ``<think>``/``<answer>``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import av

from agent.answers import ReasoningAnswer
from agent.config import VigilSettings
from agent.engines.factory import start_engine
from agent.engines.settings import EngineSettings
from streams.clock import CaptureClock
from streams.framebuffer import FrameRecord, read_frames
from streams.processor import FrameProcessor
from streams.sources import SourceOptions, open_frames
from streams.urls import parse_camera_url

logger = logging.getLogger(__name__)


class AskError(RuntimeError):
    """Nothing to ask about (no frames, unreadable file); the message says why."""


@dataclass(frozen=True, slots=True)
class Sampling:
    fps: float
    max_pixels: int
    jpeg_quality: int


def sample_file(path: Path, sampling: Sampling, max_frames: int) -> list[FrameRecord]:
    """One pass over the file at the ingest rate, at most ``max_frames`` frames."""
    duration_s = _duration_s(path)
    processor = FrameProcessor(
        path.stem, sampling.fps, sampling.max_pixels, sampling.jpeg_quality,
        CaptureClock(max_drift_s=None),
    )  # fmt: skip
    stop = threading.Event()
    records: list[FrameRecord] = []
    first_pts_s: float | None = None
    for item in open_frames(parse_camera_url(str(path)), SourceOptions(realtime=False), stop):
        if item.pts_s is not None:
            first_pts_s = item.pts_s if first_pts_s is None else first_pts_s
            if item.pts_s >= first_pts_s + duration_s:
                break  # the file source loops forever: one pass is enough
        record = processor.process(item)
        if record is not None:
            records.append(record)
        if len(records) >= max_frames:
            break
    stop.set()
    if not records:
        raise AskError(f"no frames could be sampled from {path.name}")
    return records


def recent_frames(settings: VigilSettings, camera_id: str, seconds: float) -> list[FrameRecord]:
    from agent.runtime import keys_for, redis_for

    with redis_for(settings, start_embedded=False) as client:
        end_s = time.time() + 1.0
        records = read_frames(client, keys_for(settings), camera_id, end_s - seconds - 1.0, end_s)
    if not records:
        raise AskError(f"no frames of camera {camera_id} in the last {seconds:g} s")
    return records


async def ask(
    settings: EngineSettings, records: list[FrameRecord], fps: float, question: str
) -> ReasoningAnswer:
    engine = start_engine(settings)
    try:
        clip = engine.clip(records, fps)
        return await engine.reason(clip, question)
    finally:
        await engine.close()


def run_ask(
    settings: EngineSettings, records: list[FrameRecord], fps: float, question: str
) -> ReasoningAnswer:
    return asyncio.run(ask(settings, records, fps, question))


def describe(answer: ReasoningAnswer, frames: int, fps: float) -> list[str]:
    usage, completion = answer.completion.usage, answer.completion
    lines = [f"clip: {frames} frames at {fps:g} fps ({frames / fps:.2f} s)"]
    if answer.ok:
        lines += [f"reasoning: {answer.reasoning or '(none)'}", f"answer: {answer.answer}"]
    else:
        lines += [f"unparsed answer ({answer.failure}):", completion.text]
    video = "" if usage.video_tokens is None else f", {usage.video_tokens} video"
    lines.append(
        f"tokens: {usage.prompt_tokens} prompt{video}, {usage.completion_tokens} generated; "
        f"{completion.latency_ms:.0f} ms"
    )
    return lines


def _duration_s(path: Path) -> float:
    if not path.is_file():
        raise AskError(f"no such video file: {path}")
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            if stream.duration is not None and stream.time_base is not None:
                return float(stream.duration * stream.time_base)
            if container.duration is not None:
                return float(container.duration) / 1_000_000
    except (av.FFmpegError, IndexError) as error:
        raise AskError(f"cannot read {path.name}: {error}") from None
    raise AskError(f"{path.name} does not say how long it is")
