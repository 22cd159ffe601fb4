"""The ``vigil ask`` command: options in, the answer printed."""

from __future__ import annotations

from pathlib import Path

import typer

from agent.ask import (
    AskError,
    Sampling,
    describe,
    recent_frames,
    run_ask,
    sample_file,
)
from agent.config import VigilSettings
from agent.engines.errors import EngineError
from agent.host_engine import engine_for_host, test_model_settings
from agent.testmodel import is_test_model
from streams.framebuffer import FrameRecord


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
    except (AskError, EngineError) as error:
        typer.echo(f"vigil ask: {error}", err=True)
        raise typer.Exit(1) from None
    for line in describe(answer, len(records), fps):
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
