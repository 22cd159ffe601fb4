"""The ``vigil`` command line."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from agent.camera_table import print_camera_table
from agent.config import ConfigError, VigilSettings, load_settings
from agent.logs import configure_logging
from agent.runtime import camera_specs, keys_for, redis_for, stop_on_signals
from streams.ingest import IngestService

app = typer.Typer(help="Vigil: real-time video analytics over your cameras.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks measured against a baseline in the same run.")
app.add_typer(bench_app, name="bench")

log = logging.getLogger("vigil")

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
        stop.wait()
        log.info("stopping ingest")
        service.stop()


@app.command()
def cameras(config: ConfigOption = None) -> None:
    """Print each camera's ingest health."""
    settings = _settings(config)
    with redis_for(settings, start_embedded=False) as client:
        print_camera_table(client, keys_for(settings), [spec.id for spec in camera_specs(settings)])
