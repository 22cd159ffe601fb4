"""``vigil bench alerts``: the bundled labelled footage through the real pipeline.

The five scenes of ``agent.eval.footage`` are generated into a temporary folder and played
as live cameras with the pixel engine, in-process or (``--http``) behind the pixel model
server and the real OpenAI-compatible HTTP engine. The pipeline settings are the
configured ones. Prints recall, false alerts, onset-to-alert and onset-to-webhook
latency, evidence start error and engine calls beside the ungated figure.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import typer

from agent.engines.settings import EngineSettings
from agent.eval.footage import generate
from agent.eval.labels import load_labels
from agent.eval.pixel_engine import PixelEngine
from agent.eval.pixel_server import MODEL, PixelServer
from agent.eval.report import Report, render
from agent.eval.run import EvalError, run_eval
from agent.runtime.config import ConfigError, VigilSettings, load_settings


def main(http: bool, as_json: bool) -> None:
    try:
        settings = load_settings()
    except ConfigError as error:
        typer.echo(f"vigil: {error}", err=True)
        raise typer.Exit(2) from None
    try:
        report = bench(settings, http)
    except EvalError as error:
        typer.echo(f"vigil: bench failed: {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(render(report, as_json))


def bench(settings: VigilSettings, http: bool) -> Report:
    with tempfile.TemporaryDirectory(prefix="vigil-bench-alerts-") as folder:
        labels = load_labels(generate(Path(folder)))
        if not http:
            return run_eval(labels, settings, PixelEngine())
        with PixelServer() as server:
            engine = EngineSettings(kind="openai", model=MODEL, base_urls=[server.base_url])
            return run_eval(labels, settings.model_copy(update={"engine": engine}))
