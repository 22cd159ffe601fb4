"""The webhook body as a pure function of the event and the alert record."""

from __future__ import annotations

import json

from agent.pipeline.alert_feedback import FeedbackIn, Verdict, feedback_of
from agent.pipeline.alert_records import AlertRecord
from agent.webhooks.messages import webhook_body

ALERT = AlertRecord(
    id="al_1", camera="dock", rule="lane", severity="warning", question="?", state="open",
    acknowledged=False, onset_at=1_800_000_001.0, opened_at=1_800_000_012.0,
    description="a person", last_seen=1_800_000_025.0,
)  # fmt: skip


def data(event: dict[str, object], alert: AlertRecord | None = ALERT) -> dict[str, object]:
    body = json.loads(webhook_body(event, alert, "https://vigil.example.com", 1_800_000_030.0))
    found: dict[str, object] = body["data"]
    return found


def test_an_update_carries_when_the_event_was_last_seen_as_of_the_update() -> None:
    update = {
        "type": "alert.updated", "alert_id": "al_1", "camera": "dock",
        "window": {"start": 1_800_000_012.0, "end": 1_800_000_020.0},
        "last_seen": 1_800_000_019.5, "seen_for_s": 18.5,
    }  # fmt: skip
    found = data(update)
    assert (found["last_seen"], found["seen_for_s"]) == (1_800_000_019.5, 18.5)
    alert = found["alert"]
    assert isinstance(alert, dict)
    assert (alert["last_seen"], alert["seen_for_s"]) == (1_800_000_025.0, 24.0)


def test_an_event_without_them_takes_the_alerts() -> None:
    summarized = {"type": "alert.summarized", "alert_id": "al_1", "camera": "dock"}
    found = data(summarized)
    assert (found["last_seen"], found["seen_for_s"]) == (1_800_000_025.0, 24.0)
    assert (data(summarized, None)["last_seen"], data(summarized, None)["seen_for_s"]) == (
        None, None,
    )  # fmt: skip


def test_a_feedback_event_carries_what_was_said_and_later_events_the_latest() -> None:
    said = feedback_of(FeedbackIn(verdict=Verdict.FALSE_ALARM, note="a shadow"), "op", 1.0)
    event = {
        "type": "alert.feedback", "alert_id": "al_1", "camera": "dock",
        "feedback": said.model_dump(),
    }  # fmt: skip
    body = json.loads(webhook_body(event, None, "https://vigil.example.com", 2.0))
    assert body["type"] == "alert.feedback"
    assert body["data"]["feedback"]["verdict"] == "false_alarm"
    assert body["data"]["feedback"]["note"] == "a shadow"
    judged = ALERT.model_copy(update={"feedback": said})
    closed = {"type": "alert.closed", "alert_id": "al_1", "camera": "dock"}
    found = data(closed, judged)["feedback"]
    assert isinstance(found, dict)
    assert found["by"] == "op"
    assert data(closed)["feedback"] is None
