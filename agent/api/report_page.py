"""A report as one printable HTML page: counts, timeline, summary and the windows it
cites with their thumbnails inline, so the page prints and saves whole."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import UTC, datetime
from html import escape

from agent.reports.models import Report

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem; color: #111; }
h1 { font-size: 1.4rem; margin: 0 0 .25rem; } h2 { font-size: 1.1rem; margin-top: 1.5rem; }
table { border-collapse: collapse; width: 100%; } td, th { border-bottom: 1px solid #ccc;
padding: .25rem .5rem; text-align: left; vertical-align: top; }
.summary { white-space: pre-wrap; } .muted { color: #555; }
figure { display: inline-block; margin: .5rem; width: 14rem; break-inside: avoid; }
figure img { width: 100%; } figcaption { font-size: 12px; }
@media print { body { margin: 0; } }
"""


def report_html(report: Report, thumbnails: Mapping[str, bytes]) -> str:
    """The page; ``thumbnails`` by window id (a cited window without one shows no image)."""
    cameras = ", ".join(report.cameras) or "no camera"
    parts = [
        f"<h1>Report {escape(report.id)}</h1>",
        f"<p class=muted>Cameras {escape(cameras)}; {_time(report.since)} to "
        f"{_time(report.until)}; made {_time(report.created_at)}.</p>",
        "<h2>Summary</h2>",
        f"<p class=summary>{escape(report.summary)}</p>",
        *(
            [f"<p class=muted>{escape(report.summary_failure)}</p>"]
            if report.summary_failure
            else []
        ),
        "<h2>Counts</h2>",
        _counts(report),
        "<h2>Timeline</h2>",
        _timeline(report),
        "<h2>Cited windows</h2>",
        _figures(report, thumbnails),
    ]
    body = "\n".join(parts)
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>Report "
        f"{escape(report.id)}</title><style>{STYLE}</style></head><body>{body}</body></html>"
    )


def _counts(report: Report) -> str:
    if not report.counts:
        return "<p>No rule was detected and no alert opened.</p>"
    rows = "".join(
        f"<tr><td>{escape(c.camera)}</td><td>{escape(c.rule)}</td><td>{c.alerts}</td>"
        f"<td>{c.occurrences}</td><td>{_time(c.first)}</td><td>{_time(c.last)}</td></tr>"
        for c in report.counts
    )
    head = _head("Camera", "Rule", "Alerts", "Times", "First", "Last")
    return f"<table>{head}{rows}</table>"


def _timeline(report: Report) -> str:
    if not report.timeline:
        return "<p>Nothing out of the ordinary.</p>"
    rows = "".join(
        f"<tr><td>{_time(e.start)}</td><td>{_time(e.end)}</td><td>{escape(e.camera)}</td>"
        f"<td>{escape(e.rule or e.kind)}</td><td>{escape(e.text)}"
        f"{f' [{escape(e.tag)}]' if e.tag else ''}</td></tr>"
        for e in report.timeline
    )
    head = _head("From", "To", "Camera", "What", "Seen")
    return f"<table>{head}{rows}</table>"


def _figures(report: Report, thumbnails: Mapping[str, bytes]) -> str:
    cited = [window for window in report.windows if window.cited]
    if not cited:
        return "<p>The summary cites no window.</p>"
    figures = []
    for window in cited:
        jpeg = thumbnails.get(window.window)
        image = (
            f'<img alt="" src="data:image/jpeg;base64,{base64.b64encode(jpeg).decode()}">'
            if jpeg
            else ""
        )
        figures.append(
            f"<figure>{image}<figcaption>[{escape(window.tag)}] {escape(window.camera)}, "
            f"{_time(window.start)}: {escape(window.caption)}</figcaption></figure>"
        )
    return "".join(figures)


def _head(*names: str) -> str:
    return "<tr>" + "".join(f"<th>{name}</th>" for name in names) + "</tr>"


def _failure(failure: str | None) -> str:
    return f"<p class=muted>The summary failed: {escape(failure)}</p>" if failure else ""


def _time(epoch_s: float | None) -> str:
    if epoch_s is None:
        return "—"
    return datetime.fromtimestamp(epoch_s, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
