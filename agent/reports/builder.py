"""Building a report: the records of each camera, the counts and timeline they give, and a
summary written by the engine over them (none, and no call, when nothing happened)."""

from __future__ import annotations

import re
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import redis.asyncio as aioredis

from agent.archive.alert_store import AlertStore
from agent.archive.history import clock, fact_line, window_line
from agent.archive.store import ArchiveStore, StoredWindow
from agent.engines import Engine
from agent.pipeline.alert_records import AlertRecord
from agent.pipeline.rules_store import RuleStore
from agent.reports.models import Report, ReportWindow, RuleCount, TimelineEntry
from agent.reports.records import CameraRecords, camera_records
from agent.reports.summary import Block, Written, hour_label, write_summary
from streams.bus.keys import Keys

HOUR_MS = 3_600_000
_TAG = re.compile(r"\[w(\d{1,4})\]")


@dataclass(frozen=True, slots=True)
class ReportSources:
    client: aioredis.Redis
    keys: Keys
    store: ArchiveStore | None  # None while nothing is archived yet
    alert_archive: AlertStore | None
    engine: Engine | None


async def build_report(
    sources: ReportSources,
    report_id: str,
    cameras: Sequence[str],
    period: tuple[float, float],
    schedule: str | None = None,
) -> Report:
    period_ms = (round(period[0] * 1000), round(period[1] * 1000))
    records = [
        await camera_records(
            sources.store, sources.client, sources.keys, sources.alert_archive, camera, period_ms
        )
        for camera in cameras
    ]
    windows = await _tagged_windows(sources.store, records)
    tags = {window.window_id: f"w{index + 1}" for index, window in enumerate(windows)}
    written = await _summary(sources, records, windows, tags)
    cited = _cited(written.text, windows)
    return Report(
        id=report_id,
        schedule=schedule,
        cameras=list(cameras),
        since=period[0],
        until=period[1],
        created_at=round(time.time(), 3),
        notable=any(camera.notable for camera in records),
        counts=[count for camera in records for count in _counts(camera)],
        timeline=_timeline(records, tags),
        summary=written.text,
        summary_failure=written.failure,
        windows=_windows_out(windows, tags, cited),
        cited=cited,
        windows_left_out=written.lines_left_out,
        engine_calls=written.calls,
        counts_are_lower_bounds=any(camera.capped for camera in records),
    )


async def _summary(
    sources: ReportSources,
    records: list[CameraRecords],
    windows: list[StoredWindow],
    tags: dict[str, str],
) -> Written:
    if not any(camera.notable for camera in records):
        return Written(nothing_happened(records), None, 0, 0)
    if sources.engine is None:
        return Written("", "no engine is configured here to write the summary", 0, 0)
    rules = {rule.id: rule.question for rule in await RuleStore(sources.client, sources.keys).all()}
    return await write_summary(sources.engine, blocks(records, windows, tags, rules))


def nothing_happened(records: list[CameraRecords]) -> str:
    cameras = ", ".join(camera.camera_id for camera in records) or "no camera"
    return (
        f"Nothing notable on {cameras} in this period: no rule was detected, no alert "
        "opened, and every analysed window showed the usual scene."
    )


async def _tagged_windows(
    store: ArchiveStore | None, records: list[CameraRecords]
) -> list[StoredWindow]:
    """The windows the summary may cite: each stretch's first window and each fact's last
    detection, oldest first."""
    wanted = {s.first_window_id for camera in records for s in camera.stretches}
    wanted |= {fact.last_window_id for camera in records for fact in camera.facts}
    if store is None:
        return []
    found = await store.windows_by_id(sorted(wanted))
    return sorted(found, key=lambda window: (window.start_ms, window.camera_id))


def blocks(
    records: list[CameraRecords],
    windows: list[StoredWindow],
    tags: dict[str, str],
    rules: dict[str, str],
) -> list[Block]:
    """Per camera and hour, the lines the model reads; a camera's facts in its first."""
    by_hour: dict[tuple[str, int], Block] = {}
    for window in windows:
        block = _block(by_hour, window.camera_id, window.start_ms)
        block.lines.append(window_line(window, tags[window.window_id]))
    for camera in records:
        for alert in camera.alerts:
            start_s = alert.onset_at or alert.opened_at
            _block(by_hour, camera.camera_id, round(start_s * 1000)).lines.append(
                _alert_line(alert)
            )
    ordered = [by_hour[key] for key in sorted(by_hour)]
    for camera in records:
        if camera.facts:
            first = next(b for b in ordered if b.label.startswith(f"camera {camera.camera_id},"))
            first.facts = [fact_line(f, rules, tags.get(f.last_window_id)) for f in camera.facts]
    return ordered


def _block(by_hour: dict[tuple[str, int], Block], camera_id: str, start_ms: int) -> Block:
    hour_ms = start_ms // HOUR_MS * HOUR_MS
    key = (camera_id, hour_ms)
    if key not in by_hour:
        by_hour[key] = Block(hour_label(camera_id, hour_ms))
    return by_hour[key]


def _alert_line(alert: AlertRecord) -> str:
    start = alert.onset_at or alert.opened_at
    end = _alert_end(alert)
    return (
        f"- alert on camera {alert.camera}, rule {alert.rule}, {alert.severity}, from "
        f"{clock(round(start * 1000))} to {clock(round(end * 1000))}: {alert.description}"
    )


def _alert_end(alert: AlertRecord) -> float:
    """When the event was last seen, for alerts that say; else when the alert closed."""
    return alert.last_seen or alert.closed_at or alert.updated_at or alert.opened_at


def _counts(camera: CameraRecords) -> list[RuleCount]:
    alerts: dict[str, int] = defaultdict(int)
    for alert in camera.alerts:
        alerts[alert.rule] += 1
    counts = [
        RuleCount(
            rule=fact.rule_id,
            camera=camera.camera_id,
            alerts=fact.alerts,
            windows=fact.windows,
            occurrences=fact.occurrences,
            first=fact.first_ms / 1000,
            last=fact.last_ms / 1000,
        )
        for fact in camera.facts
    ]
    counted = {fact.rule_id for fact in camera.facts}
    counts += [
        RuleCount(
            rule=rule,
            camera=camera.camera_id,
            alerts=number,
            windows=0,
            occurrences=0,
            first=None,
            last=None,
        )
        for rule, number in sorted(alerts.items())
        if rule not in counted
    ]
    return counts


def _timeline(records: list[CameraRecords], tags: dict[str, str]) -> list[TimelineEntry]:
    entries = []
    for camera in records:
        for alert in camera.alerts:
            start = alert.onset_at or alert.opened_at
            entries.append(
                TimelineEntry(
                    kind="alert",
                    camera=alert.camera,
                    start=start,
                    end=_alert_end(alert),
                    text=alert.description,
                    rule=alert.rule,
                    alert_id=alert.id,
                )
            )
        for stretch in camera.stretches:
            entries.append(
                TimelineEntry(
                    kind="scene",
                    camera=camera.camera_id,
                    start=stretch.start_ms / 1000,
                    end=stretch.end_ms / 1000,
                    text=stretch.caption,
                    window=stretch.first_window_id,
                    tag=tags.get(stretch.first_window_id),
                )
            )
    return sorted(entries, key=lambda entry: (entry.start, entry.camera, entry.kind))


def _cited(text: str, windows: list[StoredWindow]) -> list[str]:
    numbers = [int(match) for match in _TAG.findall(text)]
    return list(dict.fromkeys(windows[n - 1].window_id for n in numbers if 1 <= n <= len(windows)))


def _windows_out(
    windows: list[StoredWindow], tags: dict[str, str], cited: list[str]
) -> list[ReportWindow]:
    return [
        ReportWindow(
            tag=tags[window.window_id],
            window=window.window_id,
            camera=window.camera_id,
            start=window.start_ms / 1000,
            end=window.end_ms / 1000,
            caption=window.caption,
            cited=window.window_id in cited,
        )
        for window in windows
    ]
