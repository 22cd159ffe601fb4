"""``vigil eval LABELS.yaml``: the real pipeline over labelled footage, alerts against the truth."""

from __future__ import annotations

from pathlib import Path

import typer

from agent.eval.labels import LabelError, load_labels
from agent.eval.pixel_engine import PixelEngine
from agent.eval.report import render
from agent.eval.run import EvalError, run_eval
from agent.runtime.config import VigilSettings


def eval_command(settings: VigilSettings, labels_path: Path, as_json: bool, pixel: bool) -> None:
    """Runs the set with the configured engine (or the pixel engine) and prints the report."""
    try:
        labels = load_labels(labels_path)
    except LabelError as error:
        typer.echo(f"vigil: {error}", err=True)
        raise typer.Exit(2) from None
    try:
        report = run_eval(labels, settings, PixelEngine() if pixel else None)
    except EvalError as error:
        typer.echo(f"vigil: eval failed: {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(render(report, as_json))
