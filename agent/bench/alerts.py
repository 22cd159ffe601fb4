"""``vigil bench alerts``: the bundled labelled footage through the real pipeline.

The scenes of ``agent.eval.footage`` are generated into a temporary folder and played
as live cameras with the pixel engine, in-process or (``--http``) behind the pixel model
server and the real OpenAI-compatible HTTP engine. The pipeline settings are the
configured ones. Prints recall, false alerts, onset-to-alert and onset-to-webhook
latency, evidence start error and engine calls beside the ungated figure, over all the
scenes and over the still one (``calls_per_camera_hour_still``), and the zone scenes'
figures (``zones_recall``, ``zones_false_alerts``, ``calls_share_outside_motion``).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import typer

from agent.engines.settings import EngineSettings
from agent.eval.footage import STILL_SCENES, generate
from agent.eval.labels import load_labels
from agent.eval.pixel_engine import PixelEngine
from agent.eval.pixel_server import MODEL, PixelServer
from agent.eval.report import Report, render
from agent.eval.run import EvalError, run_eval
from agent.eval.zone_footage import WHOLE_PICTURE_TWIN, ZONE_RULE
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
    if as_json:
        typer.echo(json.dumps(figures(report)))
    else:
        typer.echo(render(report, as_json=False))


def figures(report: Report) -> dict[str, Any]:
    """The report's JSON with the gating figures of the still scenes and the zone scenes
    beside it."""
    calls, ungated = report.calls_per_camera_hour(STILL_SCENES)
    return {
        **report.to_json(),
        "calls_per_camera_hour_still": round(calls, 1),
        "calls_per_camera_hour_still_ungated": round(ungated, 1),
        **zone_figures(report),
    }


def zone_figures(report: Report) -> dict[str, Any]:
    """The lane rule's recall and false alerts (an alert for the object outside the lane
    is one), and the engine calls on the busy lane scene with zones over the calls the
    same footage costs a camera without them."""
    lane = report.rules[ZONE_RULE]
    twin, played = WHOLE_PICTURE_TWIN
    without_zones = report.calls.get(twin, 0)
    share = report.calls.get(played, 0) / without_zones if without_zones else None
    return {
        "zones_recall": lane.to_json()["recall"],
        "zones_false_alerts": len(lane.false_alerts),
        "calls_share_outside_motion": None if share is None else round(share, 3),
    }


def bench(settings: VigilSettings, http: bool) -> Report:
    with tempfile.TemporaryDirectory(prefix="vigil-bench-alerts-") as folder:
        labels = load_labels(generate(Path(folder)))
        if not http:
            return run_eval(labels, settings, PixelEngine())
        with PixelServer() as server:
            engine = EngineSettings(kind="openai", model=MODEL, base_urls=[server.base_url])
            return run_eval(labels, settings.model_copy(update={"engine": engine}))
