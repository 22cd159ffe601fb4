"""Alerts against the labelled truth: matching, recall, false alerts, latency, calls. Pure.

Per (video, rule), alerts are taken in onset order; an alert matches the earliest event
not yet matched whose ``[start - tolerance, end]`` holds its onset. Every other alert is
a false alert; every event left unmatched is missed. Latencies run from the labelled
event start (when the thing could first be seen) to the alert's opening and to the
arrival of its ``alert.opened`` webhook; the evidence start error is how far the alert's
onset lies from the labelled start. Engine calls are set beside the ungated figure: one
call for every window of the grid that fits in the footage.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from agent.eval.labels import Interval, LabelSet

TOLERANCE_S = 2.0
HOUR_S = 3600.0


@dataclass(frozen=True, slots=True)
class SeenAlert:
    """An alert of the run, its times in seconds of its video."""

    alert_id: str
    video: str
    rule: str
    onset_s: float
    opened_s: float
    webhook_s: float | None  # arrival of its alert.opened webhook; None: never arrived


@dataclass(frozen=True, slots=True)
class Observed:
    """What a run saw, beside the labels."""

    alerts: list[SeenAlert]
    calls: dict[str, int]  # video -> engine verdict calls
    window_s: float
    stride_s: float
    bad_signatures: int = 0  # webhook messages whose signature did not verify
    origins: dict[str, float] = field(default_factory=dict)  # video -> epoch s of its second 0


@dataclass(frozen=True, slots=True)
class Match:
    event: Interval
    alert: SeenAlert | None


@dataclass(frozen=True, slots=True)
class Figures:
    """Detection figures of one rule, or of all together."""

    matches: list[Match] = field(default_factory=list)
    false_alerts: list[SeenAlert] = field(default_factory=list)

    @property
    def detected(self) -> list[tuple[Interval, SeenAlert]]:
        return [(m.event, m.alert) for m in self.matches if m.alert is not None]

    def to_json(self) -> dict[str, Any]:
        detected = self.detected
        opened = [alert.opened_s - event[0] for event, alert in detected]
        webhook = [a.webhook_s - e[0] for e, a in detected if a.webhook_s is not None]
        errors = [abs(alert.onset_s - event[0]) for event, alert in detected]
        events = len(self.matches)
        return {
            "events": events,
            "detected": len(detected),
            "missed": events - len(detected),
            "false_alerts": len(self.false_alerts),
            "recall": _round(len(detected) / events) if events else None,
            "precision": _precision(len(detected), len(self.false_alerts)),
            **_spread("onset_to_opened", opened, (50, 95, 100)),
            **_spread("onset_to_webhook", webhook, (50, 95, 100)),
            "webhooks_missing": len(detected) - len(webhook),
            **_spread("evidence_start_error", errors, (50, 100)),
        }


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between the closest ranks; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def match(events: Iterable[Interval], alerts: Iterable[SeenAlert]) -> Figures:
    """One video and rule: each alert to the earliest open event that holds its onset."""
    open_events = sorted(events)
    found: dict[Interval, SeenAlert] = {}
    false_alerts = []
    for alert in sorted(alerts, key=lambda a: a.onset_s):
        event = next((e for e in open_events if e[0] - TOLERANCE_S <= alert.onset_s <= e[1]), None)
        if event is None:
            false_alerts.append(alert)
            continue
        open_events.remove(event)
        found[event] = alert
    matches = [Match(event, found.get(event)) for event in sorted(events)]
    return Figures(matches, false_alerts)


@dataclass(frozen=True, slots=True)
class Report:
    rules: dict[str, Figures]
    durations_s: dict[str, float]
    calls: dict[str, int]
    window_s: float
    stride_s: float
    bad_signatures: int = 0
    origins: dict[str, float] = field(default_factory=dict)  # video -> epoch s of its second 0

    @property
    def overall(self) -> Figures:
        return Figures(
            [m for figures in self.rules.values() for m in figures.matches],
            [a for figures in self.rules.values() for a in figures.false_alerts],
        )

    def ungated_windows(self, video: str) -> int:
        """Windows of the grid that fit in the video: what an ungated pipeline would run."""
        fitting = math.floor((self.durations_s[video] - self.window_s) / self.stride_s) + 1
        return max(0, fitting)

    def calls_per_camera_hour(self, videos: Iterable[str]) -> tuple[float, float]:
        """(engine calls, ungated calls) per camera-hour over these videos."""
        chosen = list(videos)
        hours = sum(self.durations_s[video] for video in chosen) / HOUR_S
        calls = sum(self.calls.get(video, 0) for video in chosen)
        ungated = sum(self.ungated_windows(video) for video in chosen)
        return (calls / hours, ungated / hours) if hours else (0.0, 0.0)

    def to_json(self) -> dict[str, Any]:
        calls, ungated = self.calls_per_camera_hour(self.durations_s)
        return {
            **self.overall.to_json(),
            "calls_per_camera_hour": _round(calls),
            "calls_per_camera_hour_ungated": _round(ungated),
            "webhook_bad_signatures": self.bad_signatures,
            "rules": {rule: figures.to_json() for rule, figures in self.rules.items()},
            "videos": {video: self.video_json(video) for video in self.durations_s},
            "alerts": [_alert_json(m.alert, m) for m in self.overall.matches if m.alert]
            + [_alert_json(alert, None) for alert in self.overall.false_alerts],
        }

    def video_json(self, video: str) -> dict[str, Any]:
        calls, ungated = self.calls_per_camera_hour([video])
        return {
            "duration_s": self.durations_s[video],
            "calls": self.calls.get(video, 0),
            "ungated_windows": self.ungated_windows(video),
            "calls_per_camera_hour": _round(calls),
            "calls_per_camera_hour_ungated": _round(ungated),
        }


def build_report(labels: LabelSet, observed: Observed) -> Report:
    rules: dict[str, Figures] = {}
    for labelled in labels.file.rules:
        parts = [
            match(
                labels.events(labelled.id, video),
                [a for a in observed.alerts if a.rule == labelled.id and a.video == video],
            )
            for video in labelled.videos
        ]
        rules[labelled.id] = Figures(
            [m for part in parts for m in part.matches],
            [a for part in parts for a in part.false_alerts],
        )
    return Report(
        rules,
        dict(labels.durations_s),
        dict(observed.calls),
        observed.window_s,
        observed.stride_s,
        observed.bad_signatures,
        dict(observed.origins),
    )


def before_after(rules: dict[str, Any], before: str, after: str) -> dict[str, float | None]:
    """Precision and recall of the rule now and of the changed rule on the same footage,
    from a report's per-rule figures (``Report.to_json()["rules"]``)."""
    now, changed = rules[before], rules[after]
    return {
        "precision_before": now["precision"],
        "precision_after": changed["precision"],
        "recall_before": now["recall"],
        "recall_after": changed["recall"],
    }


def render(report: Report, as_json: bool) -> str:
    """What the commands print: the JSON object, or the table."""
    return json.dumps(report.to_json(), indent=2) if as_json else table(report)


def table(report: Report) -> str:
    """The report for people: one row per rule and one for all, then the calls."""
    header = (
        f"{'rule':<16}{'events':>7}{'found':>6}{'missed':>7}{'false':>6}{'recall':>7}"
        f"  {'onset->opened p50/p95/max':>27}  {'onset->webhook p50/p95/max':>27}"
        f"  {'onset error p50/max':>20}"
    )
    rows = [header, "-" * len(header)]
    for name, figures in [*report.rules.items(), ("all", report.overall)]:
        rows.append(_row(name, figures.to_json()))
    calls, ungated = report.calls_per_camera_hour(report.durations_s)
    share = f" ({calls / ungated:.0%} of ungated)" if ungated else ""
    rows.append(f"\nengine calls per camera-hour: {calls:.0f}, ungated {ungated:.0f}{share}")
    for video in report.durations_s:
        seen = report.video_json(video)
        rows.append(
            f"  {video:<14}{seen['calls']:>4} calls of {seen['ungated_windows']} windows"
            f" in {seen['duration_s']:.0f} s"
        )
    return "\n".join(rows)


def _row(name: str, figures: dict[str, Any]) -> str:
    recall = "-" if figures["recall"] is None else f"{figures['recall']:.2f}"
    opened = _triple(figures, "onset_to_opened", ("p50", "p95", "max"))
    webhook = _triple(figures, "onset_to_webhook", ("p50", "p95", "max"))
    error = _triple(figures, "evidence_start_error", ("p50", "max"))
    return (
        f"{name:<16}{figures['events']:>7}{figures['detected']:>6}{figures['missed']:>7}"
        f"{figures['false_alerts']:>6}{recall:>7}  {opened:>27}  {webhook:>27}  {error:>20}"
    )


def _triple(figures: dict[str, Any], name: str, parts: tuple[str, ...]) -> str:
    values = [figures[f"{name}_{part}_s"] for part in parts]
    return "/".join("-" if value is None else f"{value:.1f}" for value in values) + " s"


def _spread(name: str, values: list[float], quantiles: tuple[int, ...]) -> dict[str, float | None]:
    labels = {50: "p50", 95: "p95", 100: "max"}
    return {
        f"{name}_{labels[q]}_s": _round(value)
        for q in quantiles
        for value in [percentile(values, q)]
    }


def _alert_json(alert: SeenAlert, matched: Match | None) -> dict[str, Any]:
    return {
        "alert_id": alert.alert_id,
        "video": alert.video,
        "rule": alert.rule,
        "onset_s": _round(alert.onset_s),
        "opened_s": _round(alert.opened_s),
        "webhook_s": _round(alert.webhook_s),
        "event": list(matched.event) if matched else None,
    }


def _precision(detected: int, false_alerts: int) -> float | None:
    """Of the alerts, the share that were right; None without alerts."""
    alerts = detected + false_alerts
    return _round(detected / alerts) if alerts else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
