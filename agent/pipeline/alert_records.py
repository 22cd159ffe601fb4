"""Reading alerts back from Redis: one record with its windows, or a filtered page.

``alert:{id}`` holds the state; the alert index (or the camera's) lists the alerts Redis
holds by when they opened, so a page walks it newest first. Alerts past the hot retention
have left Redis for the archive; ``agent.archive.alert_pages`` pages through both.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, cast

import redis.asyncio as aioredis
from pydantic import BaseModel, computed_field

from agent.engines.clip_times import PlacedTime
from agent.pipeline.alert_feedback import AlertFeedback
from streams.bus.keys import Keys

SCAN_BATCH = 200
SCAN_LIMIT = 5000  # alerts looked at per page at most; the cursor resumes the walk
ID_PREFIX = "al_"


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
    evidence: dict[str, float] | None = None  # from the onset to the confirming window's end
    last_seen: float | None = None  # end of the latest positive window's evidence (epoch s)
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
    zones: list[dict[str, Any]] = []  # the rule's zones as drawn for the model
    feedback: AlertFeedback | None = None  # what a person said of it, the latest word
    # The context clip the archive keeps for feedback: where, its first and last frame
    context_clip: str | None = None
    context_clip_start: float | None = None
    context_clip_end: float | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def seen_for_s(self) -> float | None:
        """How long the event was seen: from its onset to when it was last seen."""
        if self.onset_at is None or self.last_seen is None:
            return None
        return round(self.last_seen - self.onset_at, 3)


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
            (self.camera is None or alert.camera == self.camera)
            and (self.rule is None or alert.rule == self.rule)
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
        last_seen=_number(fields.get("last_seen")),  # absent from older alerts
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
        zones=json.loads(fields["zones"]) if fields.get("zones") else [],
        summary_placed=optional.get("summary_placed"),
        summary_times=_times(fields.get("summary_times")),
        reasoning_placed=optional.get("reasoning_placed"),
        reasoning_times=_times(fields.get("reasoning_times")),
        summary_clip_start=_number(fields.get("summary_clip_start")),
        summary_clip_end=_number(fields.get("summary_clip_end")),
        feedback=_feedback(fields.get("feedback")),
        context_clip=optional.get("context_clip"),
        context_clip_start=_number(fields.get("context_clip_start")),
        context_clip_end=_number(fields.get("context_clip_end")),
    )


def _number(value: str | None) -> float | None:
    return float(value) if value else None


def _feedback(value: str | None) -> AlertFeedback | None:
    return AlertFeedback.model_validate_json(value) if value else None


def _times(value: str | None) -> list[PlacedTime] | None:
    return [PlacedTime(**time) for time in json.loads(value)] if value else None


async def read_alert(client: aioredis.Redis, keys: Keys, alert_id: str) -> AlertRecord | None:
    raw = cast(dict[bytes, bytes], await client.hgetall(keys.alert(alert_id)))
    return record_from_hash(raw) if raw.get(b"id") else None


async def alert_windows(client: aioredis.Redis, keys: Keys, alert_id: str) -> list[Any]:
    raw = cast(list[bytes], await client.lrange(keys.alert_windows(alert_id), 0, -1))
    return [json.loads(item) for item in raw]


@dataclass(frozen=True, order=True, slots=True)
class AlertKey:
    """Where an alert sits in a page of alerts: by when it opened, then by id (pages run
    newest first, so a cursor is the key below which the next page starts)."""

    opened_ms: int
    alert_id: str

    @classmethod
    def of(cls, alert: AlertRecord) -> AlertKey:
        return cls(round(alert.opened_at * 1000), alert.id)

    @classmethod
    def parse(cls, cursor: str) -> AlertKey:
        """``<opened_ms>-<hex of the id>``, as ``cursor`` writes it."""
        milliseconds, _, digest = cursor.partition("-")
        return cls(int(milliseconds), ID_PREFIX + digest)

    def cursor(self) -> str:
        return f"{self.opened_ms}-{self.alert_id.removeprefix(ID_PREFIX)}"


@dataclass(frozen=True, slots=True)
class HotPage:
    items: list[AlertRecord]  # accepted by the filter, newest first
    floor: AlertKey | None  # every indexed alert from the page's start down to it was read;
    # None: every one was


async def list_hot_alerts(
    client: aioredis.Redis, keys: Keys, wanted: AlertFilter, limit: int, before: AlertKey | None
) -> HotPage:
    """Up to ``limit`` alerts held in Redis below ``before``, newest first, read from the
    index of when they opened; at most SCAN_LIMIT of them are looked at."""
    index = keys.alert_index if wanted.camera is None else keys.camera_alert_index(wanted.camera)
    walk = _IndexWalk(client, index, wanted.since)
    bound = _upper_bound(before, wanted.until)
    found: list[AlertRecord] = []
    looked_at = 0
    async for batch in walk.below(bound):
        records = await read_alerts(client, keys, [key.alert_id for key in batch])
        for key, alert in zip(batch, records, strict=True):
            looked_at += 1
            if alert is not None and wanted.accepts(alert):
                found.append(alert)
            if len(found) == limit or looked_at >= SCAN_LIMIT:
                return HotPage(found, key)
    return HotPage(found, None)


async def list_alerts(
    client: aioredis.Redis, keys: Keys, wanted: AlertFilter, limit: int, cursor: str | None
) -> tuple[list[AlertRecord], str | None]:
    """Up to ``limit`` alerts held in Redis, newest first, and the cursor of the next page
    (None: no more). Those past the hot retention are in the archive: see ``alert_pages``."""
    before = None if cursor is None else AlertKey.parse(cursor)
    page = await list_hot_alerts(client, keys, wanted, limit, before)
    return page.items, None if page.floor is None else page.floor.cursor()


def _upper_bound(before: AlertKey | None, until: float | None) -> AlertKey | None:
    """The smaller of the cursor and the ``until`` filter (opened before it)."""
    if until is None:
        return before
    until_key = AlertKey(math.ceil(until * 1000), "")
    return until_key if before is None else min(before, until_key)


async def read_alerts(
    client: aioredis.Redis, keys: Keys, alert_ids: list[str]
) -> list[AlertRecord | None]:
    """Each alert as Redis holds it, in order; None for one it no longer holds."""
    pipe = client.pipeline(transaction=False)
    for alert_id in alert_ids:
        pipe.hgetall(keys.alert(alert_id))
    replies = cast(list[dict[bytes, bytes]], await pipe.execute())
    return [record_from_hash(raw) if raw.get(b"id") else None for raw in replies]


class _IndexWalk:
    """An alert index's keys from a bound down, newest first, in batches; every key once,
    however many alerts opened in the same millisecond."""

    def __init__(self, client: aioredis.Redis, index: str, since: float | None) -> None:
        self._client = client
        self._index = index
        self._low: str | int = "-inf" if since is None else math.ceil(since * 1000)

    async def below(self, bound: AlertKey | None) -> AsyncIterator[list[AlertKey]]:
        high: str | int = "+inf"
        if bound is not None:
            ties = [key for key in await self._at(bound.opened_ms) if key < bound]
            if ties:
                yield ties
            high = f"({bound.opened_ms}"
        while True:
            reply = cast(
                list[tuple[bytes, float]],
                await self._client.zrevrangebyscore(
                    self._index, high, self._low, start=0, num=SCAN_BATCH, withscores=True
                ),
            )
            batch = [AlertKey(round(score), member.decode()) for member, score in reply]
            if len(batch) < SCAN_BATCH:
                if batch:
                    yield batch
                return
            last_ms = batch[-1].opened_ms  # its ties may go on past the batch: read them whole
            yield [key for key in batch if key.opened_ms != last_ms] + await self._at(last_ms)
            high = f"({last_ms}"

    async def _at(self, opened_ms: int) -> list[AlertKey]:
        """The keys of one millisecond, newest (largest id) first."""
        members = cast(
            list[bytes], await self._client.zrangebyscore(self._index, opened_ms, opened_ms)
        )
        return sorted((AlertKey(opened_ms, m.decode()) for m in members), reverse=True)
