"""``vigil bench reports``: a report over a simulated day of ten cameras.

The archive is written as a day of Vigil's would look: per camera, an 8-s window every
8 s, analysed once a minute (the heartbeat) and skipped as still in between; an event
an hour (a red object for one to three minutes, detected by the rule, an alert each),
captioned as the pixel engine captions them. The report is then made over the 24 hours
of all ten cameras with the pixel engine's text mode, as a scheduled report is made.
Prints the time, the engine calls and the share of the day's alerts that the report
shows (in its timeline, or cited by its summary), beside the budget (30 calls, 60 s).
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import redis.asyncio as aioredis
import typer

from agent.archive.alert_store import AlertRow, AlertStore
from agent.archive.settings import ArchiveSettings
from agent.archive.store import ArchiveStore, WindowRow
from agent.eval.pixel_engine import PixelEngine
from agent.pipeline.alert_records import AlertRecord
from agent.pipeline.archive_records import RuleVerdict, WindowRecord
from agent.pipeline.rules import Rule
from agent.pipeline.rules_store import RuleStore
from agent.reports.builder import ReportSources, build_report
from agent.runtime.embedded_redis import EmbeddedRedis
from streams.bus.keys import Keys

CAMERAS = 10
DAY_S = 86_400
WINDOW_MS = 8_000
HEARTBEAT_WINDOWS = 8  # one analysed window a minute, the rest still
EVENTS_PER_CAMERA = 24  # one an hour: a busy dock
DIM = 384
RULE = Rule(id="red-object", question="Is a red object in the picture?")
USUAL, SEEN = "A scene with no coloured object.", "A scene with a red object."
KEYS = Keys("vigil-bench-reports:")


@dataclass(frozen=True, slots=True)
class ReportsBench:
    cameras: int
    hours: float
    windows_archived: int
    alerts: int
    seconds: float
    engine_calls: int
    alerts_cited_share: float
    calls_budget: int = 30
    seconds_budget: float = 60.0


def main(as_json: bool) -> None:
    result = asyncio.run(run())
    if as_json:
        typer.echo(json.dumps(asdict(result)))
        return
    typer.echo(
        f"{result.cameras} cameras x {result.hours:g} h ({result.windows_archived} windows, "
        f"{result.alerts} alerts): {result.seconds:.1f} s, {result.engine_calls} engine calls "
        f"(budget {result.calls_budget}, {result.seconds_budget:g} s); alerts shown "
        f"{result.alerts_cited_share:.0%}"
    )


async def run() -> ReportsBench:
    with tempfile.TemporaryDirectory(prefix="vigil-bench-reports-") as folder:
        data = Path(folder)
        day_end_s = float(int(time.time()) // 3600 * 3600)
        windows, alerts = await _archive(data, day_end_s - DAY_S)
        with EmbeddedRedis(data / "redis", append_only=False) as server:
            client = aioredis.from_url(server.url)
            try:
                await RuleStore(client, KEYS).seed([RULE])
                return await _measure(client, data, (day_end_s - DAY_S, day_end_s), windows, alerts)
            finally:
                await client.aclose()


async def _measure(
    client: aioredis.Redis,
    data: Path,
    period: tuple[float, float],
    windows: int,
    alerts: list[AlertRecord],
) -> ReportsBench:
    settings = ArchiveSettings()
    store = await ArchiveStore.open_existing(settings, data)
    alert_store = await AlertStore.open_existing(settings, data, store.blobs) if store else None
    engine = PixelEngine()
    sources = ReportSources(client, KEYS, store, alert_store, engine)
    cameras = [camera_id(index) for index in range(CAMERAS)]
    started = time.perf_counter()
    report = await build_report(sources, "bench", cameras, period)
    seconds = time.perf_counter() - started
    shown = {entry.alert_id for entry in report.timeline if entry.alert_id}
    shown |= {w.window for w in report.windows if w.cited}
    share = sum(1 for alert in alerts if alert.id in shown) / len(alerts) if alerts else 1.0
    return ReportsBench(
        CAMERAS, (period[1] - period[0]) / 3600, windows, len(alerts), round(seconds, 2),
        report.engine_calls, round(share, 3),
    )  # fmt: skip


def camera_id(index: int) -> str:
    return f"cam-{index:02d}"


async def _archive(data: Path, start_s: float) -> tuple[int, list[AlertRecord]]:
    """Writes the simulated day; returns the windows written and the alerts."""
    settings = ArchiveSettings()
    store = await ArchiveStore.open(settings, data, DIM, writer=True)
    alert_store = await AlertStore.open(settings, data, DIM, store.blobs)
    rng = np.random.default_rng(20_261_207)
    written, alerts = 0, []
    for index in range(CAMERAS):
        events = _events(rng, start_s)
        rows = list(_day(camera_id(index), start_s, events))
        for first in range(0, len(rows), 5000):
            await store.upsert_windows(rows[first : first + 5000])
        written += len(rows)
        alerts += [_alert(camera_id(index), onset, end) for onset, end in events]
    await alert_store.upsert([AlertRow(alert, [], None, _vector()) for alert in alerts])
    return written, alerts


def _events(rng: np.random.Generator, start_s: float) -> list[tuple[float, float]]:
    onsets = np.sort(rng.uniform(start_s + 600, start_s + DAY_S - 600, EVENTS_PER_CAMERA))
    return [(float(onset), float(onset + rng.uniform(60, 180))) for onset in onsets]


def _day(camera: str, start_s: float, events: list[tuple[float, float]]) -> list[WindowRow]:
    rows, last_analysed = [], ""
    for number in range(DAY_S * 1000 // WINDOW_MS):
        start_ms = round(start_s * 1000) + number * WINDOW_MS
        seen = any(
            on * 1000 <= start_ms + WINDOW_MS and start_ms <= off * 1000 for on, off in events
        )
        if seen or number % HEARTBEAT_WINDOWS == 0:
            verdict = RuleVerdict(RULE.id, seen, 0.9, "red seen" if seen else "no red")
            record = WindowRecord(
                camera, start_ms, start_ms + WINDOW_MS, SEEN if seen else USUAL, (verdict,),
                None, None,
            )  # fmt: skip
            last_analysed = record.window_id
        else:
            record = WindowRecord(
                camera, start_ms, start_ms + WINDOW_MS, "", (), last_analysed, None
            )
        rows.append(WindowRow(record, None, _vector()))
    return rows


def _alert(camera: str, onset_s: float, end_s: float) -> AlertRecord:
    return AlertRecord(
        id=f"al_{camera}_{round(onset_s)}", camera=camera, rule=RULE.id, severity="warning",
        question=RULE.question, state="closed", acknowledged=False, onset_at=onset_s,
        opened_at=onset_s + 12, closed_at=end_s + 30, last_seen=end_s,
        description="a red object in the picture",
    )  # fmt: skip


def _vector() -> np.ndarray:
    vector = np.zeros(DIM, dtype=np.float32)
    vector[0] = 1.0
    return vector
