"""What waits in a subscription's queue, what its log records, and the payload it carries."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from agent.pipeline.alert_records import AlertRecord


class Message(BaseModel):
    """One event for one subscription; ``body`` is exactly what is signed and sent."""

    id: str  # webhook-id: the same on every try, so receivers can drop duplicates
    event_type: str
    body: str
    queued_at: float
    attempts: int = 0
    first_attempt_at: float | None = None
    next_attempt_at: float = 0.0
    last_error: str | None = None
    dead_at: float | None = None


class DeliveryRecord(BaseModel):
    message_id: str
    event_type: str
    attempt: int
    at: float
    ok: bool
    status: int | None
    error: str | None
    duration_ms: float


def webhook_body(event: dict[str, Any], alert: AlertRecord | None, base_url: str, at: float) -> str:
    """The Standard Webhooks payload: ``type``, ``timestamp`` and ``data`` with the alert."""
    alert_id = str(event.get("alert_id", ""))
    links = {
        "alert": f"{base_url}/v1/alerts/{alert_id}",
        "evidence": f"{base_url}/v1/alerts/{alert_id}/evidence.mp4",
    }
    window = event.get("window")
    if isinstance(window, dict):
        clip = f"?start={window['start']}&end={window['end']}"
        links["clip"] = f"{base_url}/v1/cameras/{event.get('camera', '')}/clip.mp4{clip}"
    data = {
        "alert_id": alert_id,
        "camera": event.get("camera"),
        "rule": event.get("rule"),
        "severity": event.get("severity"),
        "verdict": _verdict(event),
        "onset": event.get("onset"),
        "windows": event.get("windows"),
        # When the event was last seen and for how long, as of this event (else the alert)
        "last_seen": _as_of(event, alert, "last_seen"),
        "seen_for_s": _as_of(event, alert, "seen_for_s"),
        "summary": event.get("summary") or (alert.summary if alert else None),
        # The summary with the UTC time after each clip time it names ("3.00s (14:02:07 UTC)")
        "summary_placed": event.get("summary_placed") or (alert.summary_placed if alert else None),
        # What a person said of the alert: in ``alert.feedback`` events, else the latest
        "feedback": _feedback(event, alert),
        "alert": alert.model_dump() if alert else None,
        "links": links,
    }
    stamp = datetime.fromtimestamp(at, tz=UTC).isoformat().replace("+00:00", "Z")
    return json.dumps({"type": event.get("type"), "timestamp": stamp, "data": data})


def _as_of(event: dict[str, Any], alert: AlertRecord | None, name: str) -> Any:
    """The event's value of ``name``; the alert's for an event that does not carry it."""
    if event.get(name) is not None:
        return event[name]
    return getattr(alert, name) if alert else None


def _feedback(event: dict[str, Any], alert: AlertRecord | None) -> Any:
    if event.get("feedback") is not None:
        return event["feedback"]
    return alert.feedback.model_dump() if alert and alert.feedback else None


def _verdict(event: dict[str, Any]) -> dict[str, Any] | None:
    if "window" not in event:
        return None
    names = ("window", "detected", "confidence", "description", "evidence", "question")
    return {name: event.get(name) for name in names}
