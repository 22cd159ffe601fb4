"""Reading alerts back from Redis: one record with its windows, or a filtered page.

``alert:{id}`` holds the state; the ``alerts`` stream (or ``alerts:{cam}``) lists alerts in
the order they opened, so a page walks its ``alert.opened`` events newest first and the
cursor is the stream id where the walk stopped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, cast

import redis.asyncio as aioredis
from pydantic import BaseModel

from agent.engines.clip_times import PlacedTime
from agent.pipeline.alert_state import EventType
from streams.keys import Keys

SCAN_BATCH = 200
SCAN_LIMIT = 5000  # stream entries looked at per page at most; the cursor resumes the walk


class AlertRecord(BaseModel):
    id: str
    camera: str
    rule: str
    severity: str
    question: str
    state: str
    acknowledged: bool
    acknowledged_at: float | None = None
    acknowledged_by: str | None = None
    onset_at: float | None = None  # the event's onset: the earliest evidence of its streak
    opened_at: float  # when the alert opened (the streak's confirmation)
    closed_at: float | None = None
    updated_at: float | None = None
    confidence: float | None = None
    description: str
    last_description: str | None = None
    windows: int = 0  # positive windows, the streak that opened it included
    evidence: dict[str, float] | None = None  # from the onset to the latest positive window
    evidence_clip_start: float | None = None  # capture time of the evidence clip's first frame
    summary: str | None = None
    reasoning: str | None = None
    summary_failure: str | None = None
    # The summary's clip times placed on the wall clock (clip second t = summary_clip_start + t)
    summary_placed: str | None = None
    summary_times: list[PlacedTime] | None = None
    reasoning_placed: str | None = None
    reasoning_times: list[PlacedTime] | None = None
    summary_clip_start: float | None = None
    summary_clip_end: float | None = None


@dataclass(frozen=True, slots=True)
class AlertFilter:
    camera: str | None = None
    rule: str | None = None
    severity: str | None = None
    state: str | None = None
    since: float | None = None
    until: float | None = None

    def accepts(self, alert: AlertRecord) -> bool:
        return (
            (self.rule is None or alert.rule == self.rule)
            and (self.severity is None or alert.severity == self.severity)
            and (self.state is None or alert.state == self.state)
            and (self.since is None or alert.opened_at >= self.since)
            and (self.until is None or alert.opened_at < self.until)
        )


def record_from_hash(raw: dict[bytes, bytes]) -> AlertRecord:
    fields = {key.decode(): value.decode() for key, value in raw.items()}
    optional = {name: value or None for name, value in fields.items()}
    evidence = json.loads(fields["evidence"]) if fields.get("evidence") else None
    return AlertRecord(
        acknowledged_by=optional.get("acknowledged_by"),
        last_description=optional.get("last_description"),
        summary=optional.get("summary"),
        reasoning=optional.get("reasoning"),
        summary_failure=optional.get("summary_failure"),
        acknowledged_at=_number(fields.get("acknowledged_at")),
        closed_at=_number(fields.get("closed_at")),
        updated_at=_number(fields.get("updated_at")),
        confidence=_number(fields.get("confidence")),
        onset_at=_number(fields.get("onset_at")),
        evidence_clip_start=_number(fields.get("evidence_clip_start")),
        id=fields["id"],
        camera=fields["camera"],
        rule=fields.get("rule", ""),
        severity=fields.get("severity", ""),
        question=fields.get("question", ""),
        state=fields.get("state", "open"),
        acknowledged=fields.get("acknowledged") == "1",
        opened_at=float(fields.get("opened_at", "0")),
        description=fields.get("description", ""),
        windows=int(fields.get("windows", "0")),
        evidence=evidence,
        summary_placed=optional.get("summary_placed"),
        summary_times=_times(fields.get("summary_times")),
        reasoning_placed=optional.get("reasoning_placed"),
        reasoning_times=_times(fields.get("reasoning_times")),
        summary_clip_start=_number(fields.get("summary_clip_start")),
        summary_clip_end=_number(fields.get("summary_clip_end")),
    )


def _number(value: str | None) -> float | None:
    return float(value) if value else None


def _times(value: str | None) -> list[PlacedTime] | None:
    return [PlacedTime(**time) for time in json.loads(value)] if value else None


async def read_alert(client: aioredis.Redis, keys: Keys, alert_id: str) -> AlertRecord | None:
    raw = cast(dict[bytes, bytes], await client.hgetall(keys.alert(alert_id)))
    return record_from_hash(raw) if raw.get(b"id") else None


async def alert_windows(client: aioredis.Redis, keys: Keys, alert_id: str) -> list[Any]:
    raw = cast(list[bytes], await client.lrange(keys.alert_windows(alert_id), 0, -1))
    return [json.loads(item) for item in raw]


async def list_alerts(
    client: aioredis.Redis, keys: Keys, wanted: AlertFilter, limit: int, cursor: str | None
) -> tuple[list[AlertRecord], str | None]:
    """Up to ``limit`` alerts, newest first, and the cursor of the next page (None: no more)."""
    if cursor is not None and _is_first_id(cursor):
        return [], None  # nothing lies before the first possible stream id
    stream = keys.alerts if wanted.camera is None else keys.camera_alerts(wanted.camera)
    low = "-" if wanted.since is None else str(int(wanted.since * 1000))
    high = "+" if cursor is None else f"({cursor}"
    found: list[AlertRecord] = []
    for _ in range(SCAN_LIMIT // SCAN_BATCH):
        batch = await _opened_before(client, stream, high, low)
        if batch is None:
            return found, None
        last_id, opened = batch
        for entry_id, alert_id in opened:
            alert = await read_alert(client, keys, alert_id)
            if alert is not None and wanted.accepts(alert):
                found.append(alert)
                if len(found) == limit:
                    return found, entry_id
        high = f"({last_id}"
    return found, high.removeprefix("(")


def _is_first_id(entry_id: str) -> bool:
    milliseconds, _, sequence = entry_id.partition("-")
    return int(milliseconds) == 0 and int(sequence or "0") == 0


async def _opened_before(
    client: aioredis.Redis, stream: str, high: str, low: str
) -> tuple[str, list[tuple[str, str]]] | None:
    """The id of the batch's last (oldest) entry and its opened events; None past the end."""
    reply = cast(
        list[tuple[bytes, dict[bytes, bytes]]],
        await client.xrevrange(stream, max=high, min=low, count=SCAN_BATCH),
    )
    if not reply:
        return None
    opened = [
        (entry_id.decode(), fields[b"alert_id"].decode())
        for entry_id, fields in reply
        if fields.get(b"type") == EventType.OPENED.value.encode()
    ]
    return reply[-1][0].decode(), opened
