"""The ``vigil`` command line."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from agent.camera_table import print_camera_table
from agent.config import ConfigError, VigilSettings, load_settings
from agent.logs import configure_logging
from agent.runtime import (
    camera_specs,
    connect,
    keys_for,
    redis_for,
    redis_url_for,
    stop_on_signals,
)
from agent.service import Roles, run_agents
from streams.ingest import IngestService

app = typer.Typer(help="Vigil: real-time video analytics over your cameras.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks measured against a baseline in the same run.")
app.add_typer(bench_app, name="bench")

log = logging.getLogger("vigil")
HEALTH_LOG_INTERVAL_S = 30.0

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="vigil.yaml (default: $VIGIL_CONFIG, ./vigil.yaml)"),
]


def _settings(config: Path | None) -> VigilSettings:
    try:
        settings = load_settings(config)
    except ConfigError as error:
        typer.echo(f"vigil: {error}", err=True)
        raise typer.Exit(2) from None
    configure_logging(settings.log_level)
    return settings


@app.command()
def ingest(config: ConfigOption = None) -> None:
    """Read every configured camera into the rolling frame buffer in Redis."""
    settings = _settings(config)
    stop = stop_on_signals()
    with redis_for(settings) as client:
        specs = camera_specs(settings)
        service = IngestService(specs, client, keys_for(settings), settings.ingest).start()
        log.info("ingesting %s", ", ".join(spec.id for spec in specs))
        while not stop.wait(HEALTH_LOG_INTERVAL_S):
            for line in service.health_lines():
                log.info("%s", line)
        log.info("stopping ingest")
        service.stop()


@app.command()
def up(config: ConfigOption = None) -> None:
    """Run everything on this machine: ingest, scheduler, worker; print alerts as they happen."""
    settings = _settings(config)
    stop = stop_on_signals()
    with redis_url_for(settings) as url, connect(url) as client:
        specs = camera_specs(settings)
        service = IngestService(specs, client, keys_for(settings), settings.ingest).start()
        log.info("vigil up: cameras %s", ", ".join(spec.id for spec in specs))
        try:
            run_agents(settings, url, stop, Roles(alert_feed=True), emit=typer.echo)
        finally:
            service.stop()


@app.command()
def scheduler(config: ConfigOption = None) -> None:
    """Cut the cameras' frames into clip windows and queue them for the workers."""
    settings = _settings(config)
    with redis_url_for(settings, start_embedded=False) as url:
        run_agents(settings, url, stop_on_signals(), Roles(scheduler=True, worker=False))


@app.command()
def worker(config: ConfigOption = None) -> None:
    """Take window jobs from the queue and run them through the engine."""
    settings = _settings(config)
    with redis_url_for(settings, start_embedded=False) as url:
        run_agents(settings, url, stop_on_signals(), Roles(scheduler=False, worker=True))


@app.command()
def cameras(config: ConfigOption = None) -> None:
    """Print each camera's ingest health."""
    settings = _settings(config)
    with redis_for(settings, start_embedded=False) as client:
        print_camera_table(client, keys_for(settings), [spec.id for spec in camera_specs(settings)])


@bench_app.command("pipeline")
def bench_pipeline(
    cameras: Annotated[int, typer.Option(min=1, help="Simulated cameras.")] = 100,
    windows: Annotated[int, typer.Option(min=1, help="Windows per camera.")] = 3,
    concurrency: Annotated[int, typer.Option(min=1, help="Jobs in flight.")] = 16,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Windows/s and control-plane CPU per window, with an engine that answers at once."""
    from agent.bench_pipeline import BenchConfig, main

    main(BenchConfig(cameras, windows, concurrency), as_json)


@bench_app.command("ingest")
def bench_ingest(
    streams: Annotated[int, typer.Option(min=1, help="Concurrent streams.")] = 4,
    seconds: Annotated[float, typer.Option(min=1, help="Content seconds per stream.")] = 20.0,
    resolutions: Annotated[str, typer.Option(help="e.g. 720p,1080p")] = "720p,1080p",
    repeats: Annotated[int, typer.Option(min=1, help="Alternations; medians are kept.")] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """CPU of ingest beside a bare decode of the same streams, and Redis bytes per camera-hour."""
    from agent.bench_ingest import BenchConfig, main

    main(BenchConfig(streams, seconds, tuple(resolutions.split(",")), repeats), as_json)


@app.command()
def ask(
    question: Annotated[str, typer.Option("--question", "-q", help="What to ask.")],
    video: Annotated[Path | None, typer.Option(help="A local video file (offline).")] = None,
    camera: Annotated[str | None, typer.Option(help="A camera id (frames from Redis).")] = None,
    seconds: Annotated[float, typer.Option(min=1, help="Recent seconds of the camera.")] = 8.0,
    max_frames: Annotated[int, typer.Option(min=2, help="Frames sent at most.")] = 64,
    test_model: Annotated[bool, typer.Option(help="Tiny random-weight model on CPU.")] = False,
    config: ConfigOption = None,
) -> None:
    """Ask the reasoning model a question about a video file or a camera's recent frames."""
    from agent.ask_command import ask_command

    ask_command(_settings(config), question, video, camera, seconds, max_frames, test_model)


@bench_app.command("engine")
def bench_engine(
    frames: Annotated[int, typer.Option(min=2, help="Frames per window.")] = 32,
    max_pixels: Annotated[int, typer.Option(help="Picture budget, strip excluded.")] = 448 * 252,
    repeats: Annotated[int, typer.Option(min=1, help="Windows timed; medians kept.")] = 30,
    model_call: Annotated[bool, typer.Option(help="Time a call on the tiny CPU model.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Worker cost per window (Redis read to request payload) beside a baseline and a call."""
    from agent.bench_engine import BenchConfig, main

    main(BenchConfig(frames, 4.0, max_pixels, 85, repeats, model_call), as_json)
