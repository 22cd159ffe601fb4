"""``vigil ask``: one free question about a local video file or a camera's recent frames.

The answer uses the reasoning mode (Cosmos ``<think>``/``<answer>``).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import typer

from agent.engines.answers import ReasoningAnswer
from agent.engines.clip_times import place_times
from agent.engines.errors import EngineError
from agent.engines.factory import start_engine
from agent.engines.host import engine_for_host, test_model_settings
from agent.engines.settings import EngineSettings
from agent.engines.testmodel import is_test_model
from agent.runtime.config import VigilSettings
from agent.runtime.startup import keys_for, redis_for
from streams.buffer.frames import FrameRecord, read_frames
from streams.ingest.file_sampling import FileSamplingError, Sampling, sample_file


class AskError(RuntimeError):
    """Nothing to ask about (no frames of the camera, no source given); the message says why."""


def ask_command(
    settings: VigilSettings,
    question: str,
    video: Path | None,
    camera: str | None,
    seconds: float,
    max_frames: int,
    test_model: bool,
) -> None:
    if test_model:
        engine = test_model_settings(settings.engine, settings.data_dir)
    else:
        engine = engine_for_host(settings.engine, settings.data_dir)
    if is_test_model(engine.model):
        typer.secho(
            "USING THE TINY RANDOM-WEIGHT TEST MODEL: the answer is noise.", fg="red", err=True
        )
    fps = settings.ingest.fps
    try:
        records = _frames(settings, video, camera, seconds, max_frames)
        answer = run_ask(engine, records, fps, question)
    except (AskError, FileSamplingError, EngineError) as error:
        typer.echo(f"vigil ask: {error}", err=True)
        raise typer.Exit(1) from None
    clip_start = None if video is not None else records[0].ts
    for line in describe(answer, len(records), fps, clip_start):
        typer.echo(line)


def _frames(
    settings: VigilSettings, video: Path | None, camera: str | None, seconds: float, max_frames: int
) -> list[FrameRecord]:
    if (video is None) == (camera is None):
        raise AskError("give exactly one of --video FILE or --camera ID")
    if video is not None:
        ingest = settings.ingest
        sampling = Sampling(ingest.fps, ingest.max_pixels, ingest.jpeg_quality)
        return sample_file(video, sampling, max_frames)
    assert camera is not None
    return recent_frames(settings, camera, seconds)[-max_frames:]


def recent_frames(settings: VigilSettings, camera_id: str, seconds: float) -> list[FrameRecord]:
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


def describe(
    answer: ReasoningAnswer, frames: int, fps: float, clip_start: float | None
) -> list[str]:
    """What ``vigil ask`` prints; ``clip_start`` (epoch s) places the answer's clip times on
    the wall clock, None for a file, whose clip seconds are already its own time."""
    usage, completion = answer.completion.usage, answer.completion
    lines = [f"clip: {frames} frames at {fps:g} fps ({frames / fps:.2f} s)"]
    if not answer.ok:
        lines += [f"unparsed answer ({answer.failure}):", completion.text]
    elif clip_start is None:
        lines += [f"reasoning: {answer.reasoning or '(none)'}", f"answer: {answer.answer}"]
        lines.append("(times in the answer are seconds from the start of the file)")
    else:
        lines += _placed_lines(answer, clip_start, frames / fps)
    video = "" if usage.video_tokens is None else f", {usage.video_tokens} video"
    lines.append(
        f"tokens: {usage.prompt_tokens} prompt{video}, {usage.completion_tokens} generated; "
        f"{completion.latency_ms:.0f} ms"
    )
    return lines


def _placed_lines(answer: ReasoningAnswer, clip_start: float, duration_s: float) -> list[str]:
    reasoning = place_times(answer.reasoning or "(none)", clip_start, duration_s)
    placed = place_times(answer.answer or "", clip_start, duration_s)
    lines = [f"reasoning: {reasoning.text}", f"answer: {placed.text}"]
    if placed.times:
        lines.append(f"answer as the model wrote it (clip seconds): {answer.answer}")
    return lines
