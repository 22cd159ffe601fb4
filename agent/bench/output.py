"""How a bench prints its figures: one JSON object, or one aligned line per figure."""

from __future__ import annotations

import json
from collections.abc import Mapping

import typer


def echo_figures(figures: Mapping[str, object], as_json: bool, width: int) -> None:
    if as_json:
        typer.echo(json.dumps(figures))
        return
    for name, value in figures.items():
        typer.echo(f"{name:>{width}}: {value}")
