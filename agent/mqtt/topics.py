"""Topic names and payloads, as pure functions of the prefix, the camera and the rule."""

from __future__ import annotations

import json
from typing import Any

from agent.pipeline.alert_records import AlertRecord
from agent.pipeline.alert_state import EventType

ONLINE = "online"
OFFLINE = "offline"
ON = "ON"
OFF = "OFF"

# Frigate's review types, from the alert book's event types
EVENT_TYPES = {
    EventType.OPENED.value: "new",
    EventType.UPDATED.value: "update",
    EventType.SUMMARIZED.value: "summary",
    EventType.CLOSED.value: "end",
    EventType.FEEDBACK.value: "feedback",
}


def availability(prefix: str) -> str:
    return f"{prefix}/available"


def alerts(prefix: str) -> str:
    return f"{prefix}/alerts"


def reports(prefix: str) -> str:
    return f"{prefix}/reports"


def last_report(prefix: str, camera_id: str) -> str:
    return f"{prefix}/{camera_id}/last_report"


def camera_status(prefix: str, camera_id: str) -> str:
    return f"{prefix}/{camera_id}/status"


def rule_state(prefix: str, camera_id: str, rule_id: str) -> str:
    return f"{prefix}/{camera_id}/{rule_id}/state"


def rule_attributes(prefix: str, camera_id: str, rule_id: str) -> str:
    return f"{prefix}/{camera_id}/{rule_id}/attributes"


def rule_snapshot(prefix: str, camera_id: str, rule_id: str) -> str:
    return f"{prefix}/{camera_id}/{rule_id}/snapshot"


def enabled_state(prefix: str, camera_id: str, rule_id: str | None = None) -> str:
    """Whether the camera (or the rule on the camera) is switched on: ON or OFF."""
    return f"{_switch_base(prefix, camera_id, rule_id)}/enabled/state"


def enabled_set(prefix: str, camera_id: str, rule_id: str | None = None) -> str:
    return f"{_switch_base(prefix, camera_id, rule_id)}/enabled/set"


def enabled_set_filters(prefix: str) -> list[str]:
    """What the publisher subscribes to for commands: cameras' and rules' switches."""
    return [f"{prefix}/+/enabled/set", f"{prefix}/+/+/enabled/set"]


def command_target(prefix: str, topic: str) -> tuple[str, str | None] | None:
    """(camera, rule or None) of an …/enabled/set topic; None for any other topic."""
    levels = topic.split("/")
    if levels[0] != prefix or levels[-2:] != ["enabled", "set"] or len(levels) not in (4, 5):
        return None
    return (levels[1], levels[2]) if len(levels) == 5 else (levels[1], None)


def feedback_set(prefix: str, camera_id: str, rule_id: str) -> str:
    """Feedback on an alert of the rule on the camera: a bare verdict, or JSON."""
    return f"{prefix}/{camera_id}/{rule_id}/feedback/set"


def command_filters(prefix: str) -> list[str]:
    """What the publisher subscribes to with commands on: switches and feedback."""
    return [*enabled_set_filters(prefix), feedback_set(prefix, "+", "+")]


def feedback_target(prefix: str, topic: str) -> tuple[str, str] | None:
    """(camera, rule) of a …/feedback/set topic; None for any other topic."""
    levels = topic.split("/")
    if levels[0] != prefix or levels[-2:] != ["feedback", "set"] or len(levels) != 5:
        return None
    return levels[1], levels[2]


def _switch_base(prefix: str, camera_id: str, rule_id: str | None) -> str:
    return f"{prefix}/{camera_id}" if rule_id is None else f"{prefix}/{camera_id}/{rule_id}"


def on_off(on: bool) -> str:
    return ON if on else OFF


def attributes(alert: AlertRecord, base_url: str, zones: list[str]) -> str:
    """What Home Assistant shows beside the binary sensor: the alert it is about, and the
    zones its rule watches."""
    alert_url = f"{base_url}/v1/alerts/{alert.id}"
    return json.dumps(
        {
            "zones": zones,
            "alert_id": alert.id,
            "state": alert.state,
            "severity": alert.severity,
            "confidence": alert.confidence,
            "description": alert.last_description or alert.description,
            "root_cause": alert.summary,
            "opened_at": alert.opened_at,
            "onset_at": alert.onset_at,
            "last_seen": alert.last_seen,
            "seen_for_s": alert.seen_for_s,
            "closed_at": alert.closed_at,
            "links": {"alert": alert_url, "evidence": f"{alert_url}/evidence.mp4"},
        }
    )


def rule_only_attributes(zones: list[str]) -> str:
    """The binary sensor's attributes while Redis holds no alert of its rule on the camera:
    the zones the rule watches (empty: the whole picture)."""
    return json.dumps({"zones": zones})


def event(event_type: str, before: AlertRecord | None, after: AlertRecord) -> str:
    """An alert event shaped like Frigate's reviews: the record before and after the change."""
    body: dict[str, Any] = {
        "type": EVENT_TYPES.get(event_type, event_type),
        "before": before.model_dump() if before else None,
        "after": after.model_dump(),
    }
    return json.dumps(body)


def report(payload: dict[str, Any], report_id: str, base_url: str) -> str:
    """A ``report.ready`` event's payload (the report in brief), with where to read and
    print the report whole."""
    report_url = f"{base_url}/v1/reports/{report_id}"
    links = {"report": report_url, "print": f"{report_url}/print"}
    return json.dumps(payload | {"links": links})


def camera_online(health_state: str) -> str:
    return ONLINE if health_state == "online" else OFFLINE
