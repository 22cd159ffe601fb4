"""The ``vigil`` command line."""

from __future__ import annotations

import typer

app = typer.Typer(help="Vigil: real-time video analytics over your cameras.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks measured against a baseline in the same run.")
app.add_typer(bench_app, name="bench")
