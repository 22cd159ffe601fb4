"""``vigil report``: a report over cameras and a period, printed (not stored or delivered)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import typer

from agent.archive.alert_store import AlertStore
from agent.archive.blobs import BlobStore
from agent.archive.store import ArchiveStore
from agent.engines import Engine
from agent.engines.errors import EngineError
from agent.engines.factory import start_engine
from agent.engines.host import engine_for_host
from agent.eval.pixel_engine import PixelEngine
from agent.pipeline.cameras_store import CameraStore
from agent.reports.builder import ReportSources, build_report
from agent.reports.models import Report, ReportRequest
from agent.runtime.config import VigilSettings
from agent.runtime.startup import connect_async, keys_for, redis_url_for


def parse_time(text: str) -> float:
    """Epoch seconds, or an ISO 8601 time (UTC unless it says otherwise)."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"{text!r} is neither epoch seconds nor an ISO time") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def report_command(
    settings: VigilSettings,
    cameras: list[str],
    since: str | None,
    until: str | None,
    pixel_engine: bool,
    as_json: bool,
) -> None:
    end = parse_time(until) if until else time.time()
    start = parse_time(since) if since else end - 86_400
    try:
        request = ReportRequest(cameras=cameras, since=start, until=end)
    except ValueError as error:
        typer.echo(f"vigil report: {error}", err=True)
        raise typer.Exit(2) from None
    try:
        report = asyncio.run(_report(settings, request, pixel_engine))
    except EngineError as error:
        typer.echo(f"vigil report: the engine failed: {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(report.model_dump_json(indent=2) if as_json else describe(report))


async def _report(settings: VigilSettings, request: ReportRequest, pixel_engine: bool) -> Report:
    engine: Engine = PixelEngine() if pixel_engine else _engine(settings)
    with redis_url_for(settings, start_embedded=False) as url:
        client = connect_async(url, settings.redis_cluster)
        try:
            keys = keys_for(settings)
            archive = settings.archive
            store = await ArchiveStore.open_existing(archive, settings.data_dir)
            blobs = await asyncio.to_thread(BlobStore.open, archive, settings.data_dir)
            alerts = await AlertStore.open_existing(archive, settings.data_dir, blobs)
            cameras = request.cameras or [c.id for c in await CameraStore(client, keys).all()]
            sources = ReportSources(client, keys, store, alerts, engine)
            return await build_report(sources, "cli", cameras, (request.since, request.until))
        finally:
            await engine.close()
            await client.aclose()


def _engine(settings: VigilSettings) -> Engine:
    return start_engine(engine_for_host(settings.engine, settings.data_dir))


def describe(report: Report) -> str:
    lines = [
        f"cameras: {', '.join(report.cameras) or 'none'}",
        f"period: {_time(report.since)} to {_time(report.until)}",
        "",
        report.summary or f"(no summary: {report.summary_failure})",
        "",
        "counts:",
    ]
    lines += [
        f"  {c.camera} {c.rule}: {c.alerts} alerts, detected {c.occurrences} separate times"
        for c in report.counts
    ] or ["  nothing detected"]
    lines.append("timeline:")
    lines += [
        f"  {_time(e.start)} - {_time(e.end)} {e.camera} {e.rule or e.kind}: {e.text}"
        + (f" [{e.tag}]" if e.tag else "")
        for e in report.timeline
    ] or ["  nothing out of the ordinary"]
    lines.append(f"engine calls: {report.engine_calls}")
    return "\n".join(lines)


def _time(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
