"""Feedback on the alerts Redis holds.

Feedback (``agent.pipeline.alert_feedback``) is kept in the alert's record: in Redis
while Redis holds the alert (here), in the archive after (``AlertStore.give_feedback``).
Giving it again replaces it: the latest word counts. Each change queues an
``alert.feedback`` event (webhooks, MQTT) and moves the rule's and camera's count of
each verdict, which ``/metrics`` shows.
"""

from __future__ import annotations

from typing import cast

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from agent.pipeline.alert_book import queue_alert_event
from agent.pipeline.alert_feedback import AlertFeedback
from agent.pipeline.alert_records import AlertRecord, record_from_hash
from agent.pipeline.alert_state import EventType
from streams.bus.keys import Keys


def event_payload(record: AlertRecord, feedback: AlertFeedback) -> dict[str, object]:
    return {
        "type": EventType.FEEDBACK.value,
        "alert_id": record.id,
        "camera": record.camera,
        "rule": record.rule,
        "severity": record.severity,
        "feedback": feedback.model_dump(),
    }


def count_field(rule: str, camera: str, verdict: str) -> str:
    return f"{rule}|{camera}|{verdict}"


def parse_count_field(field: str) -> tuple[str, str, str] | None:
    """(rule, camera, verdict) of a ``feedback_counts`` field; None for a malformed one."""
    parts = field.split("|")
    return (parts[0], parts[1], parts[2]) if len(parts) == 3 else None


def recount(
    pipe: Pipeline, keys: Keys, record: AlertRecord, before: AlertFeedback | None, after: str
) -> None:
    """Moves the alert from its earlier verdict's count to ``after``'s."""
    if before is not None:
        pipe.hincrby(
            keys.feedback_counts, count_field(record.rule, record.camera, before.verdict), -1
        )
    pipe.hincrby(keys.feedback_counts, count_field(record.rule, record.camera, after), 1)


async def give_feedback_in_redis(
    client: aioredis.Redis, keys: Keys, alert_id: str, feedback: AlertFeedback
) -> AlertRecord | None:
    """Stores the feedback on the alert Redis holds (None when it does not hold it), with
    its event and counts, in one transaction. A closed alert is queued to be archived
    again, so its archived copy carries the feedback too."""
    key = keys.alert(alert_id)
    async with client.pipeline(transaction=True) as pipe:
        while True:
            try:
                await pipe.watch(key)
                raw = cast(dict[bytes, bytes], await pipe.hgetall(key))
                if not raw.get(b"id"):
                    await pipe.unwatch()  # type: ignore[no-untyped-call]
                    return None
                record = record_from_hash(raw)
                pipe.multi()  # type: ignore[no-untyped-call]
                _queue_feedback(pipe, keys, record, feedback)
                await pipe.execute()
                return record.model_copy(update={"feedback": feedback})
            except aioredis.WatchError:
                continue


async def announce_archived_feedback(
    client: aioredis.Redis, keys: Keys, before: AlertRecord, feedback: AlertFeedback
) -> None:
    """The event and counts of feedback given on an alert only the archive holds."""
    async with client.pipeline(transaction=True) as pipe:
        _announce(pipe, keys, before, feedback)
        await pipe.execute()


def _queue_feedback(
    pipe: Pipeline, keys: Keys, record: AlertRecord, feedback: AlertFeedback
) -> None:
    key = keys.alert(record.id)
    pipe.hset(key, "feedback", feedback.model_dump_json())
    pipe.hincrby(key, "feedback_changes", 1)  # the archiver's "changed since read" check
    if record.closed_at is not None:
        closed = {record.id: round(record.closed_at * 1000)}
        pipe.zadd(keys.alerts_to_archive, closed, nx=True)
    _announce(pipe, keys, record, feedback)


def _announce(pipe: Pipeline, keys: Keys, before: AlertRecord, feedback: AlertFeedback) -> None:
    recount(pipe, keys, before, before.feedback, feedback.verdict)
    queue_alert_event(pipe, keys, before.camera, event_payload(before, feedback))
