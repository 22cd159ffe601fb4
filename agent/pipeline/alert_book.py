"""Alerts in Redis: applies window results to each (camera, rule) track atomically.

A window that causes an event is applied in one transaction per (camera, rule): it reads
the track under WATCH, steps the state machine and writes the new track together with
everything the transition causes: the alert record, its evidence, its events on
``alerts``, ``alerts:<cam>`` and ``outbox``, the root-cause summary job, and its place in
the indexes that pages of alerts and the archiver read (opened, closed). A window
that only moves the track is written with a compare-and-set on the track's last window.
A replayed or redelivered window steps nothing, so nothing is written twice.

An alert's ``evidence`` is the opening's (onset to the confirming window's evidence end)
and stays so; its ``last_seen`` follows the end of the latest positive window's evidence.
The track keeps that time and only moves it forward, and the record takes it from the
track in the same transaction, so a late or replayed window never moves it back.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any, cast

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from agent.pipeline.alert_state import (
    EventType,
    Phase,
    Policy,
    Track,
    Transition,
    WindowResult,
    step,
)
from agent.pipeline.jobs import SEEN_TTL_S, Job, JobKind
from agent.pipeline.places import mark_document, marks_json
from agent.pipeline.rules import Rule
from agent.pipeline.settings import EvidenceSettings
from streams.buffer.frames import FrameRecord
from streams.bus.keys import Keys
from streams.picture.marks import Mark

EVENT_STREAM_MAX_LEN = 100_000

EvidenceFrames = Callable[[float, float], Awaitable[list[FrameRecord]]]
"""The camera's stored frames between two capture times (epoch s), for an alert's evidence."""


async def no_evidence(start_s: float, end_s: float) -> list[FrameRecord]:
    return []


# Every write of a track moves its last window forward, so that field versions the track.
_SET_TRACK_IF = """
if (redis.call('HGET', KEYS[1], 'last_window_ms') or '') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
return 1
"""


def policy_of(rule: Rule) -> Policy:
    return Policy(
        threshold=rule.threshold,
        consecutive=rule.consecutive,
        close_after_ms=int(rule.close_after_s * 1000),
        cooldown_ms=int(rule.cooldown_s * 1000),
    )


@dataclass(frozen=True, slots=True)
class AlertEvent:
    type: EventType
    alert_id: str
    camera_id: str
    rule: Rule
    result: WindowResult
    streak: tuple[WindowResult, ...] = ()  # opening: every positive window, oldest first
    onset_ms: int | None = None  # the alert's onset: its streak's earliest evidence
    positives: int = 1
    marks: tuple[Mark, ...] = ()  # the rule's zones as the model was shown them
    last_seen_ms: int | None = None  # end of the latest positive window's evidence

    @classmethod
    def of(
        cls, transition: Transition, camera_id: str, rule: Rule, marks: tuple[Mark, ...]
    ) -> AlertEvent:
        return cls(
            transition.event, transition.alert_id, camera_id, rule, transition.result,
            transition.streak, transition.onset_ms, transition.positives, marks,
            transition.last_seen_ms,
        )  # fmt: skip

    @property
    def evidence(self) -> dict[str, float] | None:
        """On opening: from the onset to the end of the confirming window's evidence.
        Otherwise: the window's own evidence."""
        if self.type is not EventType.OPENED or self.onset_ms is None:
            return _evidence(self.result)
        end_ms = max(self.result.seen_until_ms, self.onset_ms)
        return {"start": self.onset_ms / 1000, "end": end_ms / 1000}

    @property
    def last_seen(self) -> float | None:
        """When the event was last seen (epoch s): the latest positive evidence's end."""
        return None if self.last_seen_ms is None else self.last_seen_ms / 1000

    @property
    def seen_for_s(self) -> float | None:
        """From the onset to when the event was last seen; None when either is unknown."""
        if self.onset_ms is None or self.last_seen_ms is None:
            return None
        return (self.last_seen_ms - self.onset_ms) / 1000

    def payload(self) -> dict[str, Any]:
        payload = self._window_payload()
        if self.type is EventType.OPENED:
            payload |= {
                "onset": (self.onset_ms or self.result.start_ms) / 1000,
                "windows": [window_entry(result) for result in self.streak or (self.result,)],
                "positive_windows": self.positives,
                "zones": [mark_document(mark) for mark in self.marks],
            }
        return payload

    def _window_payload(self) -> dict[str, Any]:
        return {
            "type": self.type.value,
            "alert_id": self.alert_id,
            "camera": self.camera_id,
            "rule": self.rule.id,
            "severity": self.rule.severity.value,
            "question": self.rule.question,
            "window": {"start": self.result.start_ms / 1000, "end": self.result.end_ms / 1000},
            "detected": self.result.detected,
            "confidence": self.result.confidence,
            "description": self.result.description,
            "evidence": self.evidence,
            "last_seen": self.last_seen,
            "seen_for_s": self.seen_for_s,
        }


def window_entry(result: WindowResult) -> dict[str, Any]:
    """One analysed window as an alert lists it."""
    return {
        "start": result.start_ms / 1000,
        "end": result.end_ms / 1000,
        "detected": result.detected,
        "confidence": result.confidence,
        "description": result.description,
        "evidence": _evidence(result),
    }


class AlertBook:
    def __init__(
        self,
        client: aioredis.Redis,
        keys: Keys,
        fps: float = 4.0,
        jobs_max_len: int = 10_000,
        evidence: EvidenceSettings | None = None,
    ) -> None:
        self._client = client
        self._fps = fps
        self._keys = keys
        self._jobs_max_len = jobs_max_len
        self._evidence = evidence or EvidenceSettings()
        self._set_track_if = client.register_script(_SET_TRACK_IF)

    async def track(self, camera_id: str, rule_id: str) -> Track:
        """The (camera, rule)'s alert state machine as last written."""
        raw = await self._client.hgetall(self._keys.track(camera_id, rule_id))
        return _decode_track(cast(dict[bytes, bytes], raw))

    async def apply(
        self,
        camera_id: str,
        rule: Rule,
        result: WindowResult,
        frames: EvidenceFrames = no_evidence,
        marks: tuple[Mark, ...] = (),
    ) -> AlertEvent | None:
        """Steps the track with one window; returns the event it caused, if any. An
        opening stores ``frames`` from a pre-roll before the onset to the window's end,
        and the rule's zones as ``marks`` drew them."""
        key = self._keys.track(camera_id, rule.id)
        if await self._step_without_event(key, camera_id, rule, result):
            return None
        async with self._client.pipeline(transaction=True) as pipe:
            while True:
                try:
                    return await self._apply_once(pipe, key, camera_id, rule, result, frames, marks)
                except aioredis.WatchError:
                    continue

    async def _step_without_event(
        self, key: str, camera_id: str, rule: Rule, result: WindowResult
    ) -> bool:
        """Most windows move a track without an event (or not at all, when replayed):
        those are written in one compare-and-set on the track's last window, without a
        transaction. False when the window causes an event or the track moved meanwhile."""
        raw = cast(dict[bytes, bytes], await self._client.hgetall(key))
        track = _decode_track(raw)
        new_track, transition = step(track, result, policy_of(rule), camera_id, rule.id)
        if new_track == track:
            return True
        if transition is not None:
            return False
        seen = raw.get(b"last_window_ms", b"").decode()
        fields = [item for pair in _encode_track(new_track).items() for item in pair]
        return bool(await self._set_track_if(keys=[key], args=[seen, *fields]))

    async def _apply_once(
        self,
        pipe: Pipeline,
        key: str,
        camera_id: str,
        rule: Rule,
        result: WindowResult,
        frames: EvidenceFrames,
        marks: tuple[Mark, ...],
    ) -> AlertEvent | None:
        await pipe.watch(key)
        track = _decode_track(cast(dict[bytes, bytes], await pipe.hgetall(key)))
        new_track, transition = step(track, result, policy_of(rule), camera_id, rule.id)
        if new_track == track:
            await pipe.unwatch()  # type: ignore[no-untyped-call]
            return None
        event = None if transition is None else AlertEvent.of(transition, camera_id, rule, marks)
        jpegs = await self._evidence_frames(event, frames)
        pipe.multi()  # type: ignore[no-untyped-call]
        pipe.hset(key, mapping=_encode_track(new_track))  # type: ignore[arg-type]
        if event is not None:
            self._queue_transition(pipe, event, jpegs)
        await pipe.execute()
        return event

    async def _evidence_frames(
        self, event: AlertEvent | None, frames: EvidenceFrames
    ) -> list[FrameRecord]:
        if event is None or event.type is not EventType.OPENED:
            return []
        end_s = event.result.end_ms / 1000
        start_s = (event.onset_ms or event.result.start_ms) / 1000 - self._evidence.preroll_s
        return await frames(max(start_s, end_s - self._evidence.max_s), end_s)

    def _queue_transition(
        self, pipe: Pipeline, event: AlertEvent, frames: list[FrameRecord]
    ) -> None:
        alert_key = self._keys.alert(event.alert_id)
        now_ms = round(time.time() * 1000)
        now = now_ms / 1000  # to the millisecond, so the record and its index agree
        fields: dict[str, str] = {
            "updated_at": f"{now:.3f}",
            "last_description": event.result.description,
        }
        windows = [{"type": event.type.value, **window_entry(event.result)}]
        if event.type is EventType.OPENED:
            fields |= _opening_fields(event, now, frames)
            pipe.sadd(self._keys.open_alerts(event.camera_id), event.alert_id)
            self._index(pipe, event, now_ms)
            if frames:
                pipe.rpush(self._keys.evidence(event.alert_id), *(f.jpeg for f in frames))
            self._queue_summary_job(pipe, event)
            earlier = [{"type": "streak", **window_entry(result)} for result in event.streak[:-1]]
            windows = earlier + windows
        elif event.type is EventType.CLOSED:
            fields |= {"state": "closed", "closed_at": f"{event.result.end_ms / 1000:.3f}"}
            pipe.srem(self._keys.open_alerts(event.camera_id), event.alert_id)
            closed = {event.alert_id: event.result.end_ms}
            pipe.zadd(self._keys.closed_alerts, closed)
            pipe.zadd(self._keys.alerts_to_archive, closed)
        if event.type is not EventType.CLOSED:
            positives = event.positives if event.type is EventType.OPENED else 1
            pipe.hincrby(alert_key, "windows", positives)
            pipe.hset(alert_key, "last_positive_at", f"{event.result.end_ms / 1000:.3f}")
            if event.last_seen is not None:  # the track's: already the latest, never earlier
                pipe.hset(alert_key, "last_seen", f"{event.last_seen:.3f}")
        pipe.hset(alert_key, mapping=fields)  # type: ignore[arg-type]
        pipe.rpush(self._keys.alert_windows(event.alert_id), *map(json.dumps, windows))
        self.queue_event(pipe, event.camera_id, event.payload())

    def _index(self, pipe: Pipeline, event: AlertEvent, opened_ms: int) -> None:
        """Lists the new alert where pages of alerts look, by when it opened."""
        opened = {event.alert_id: opened_ms}
        pipe.zadd(self._keys.alert_index, opened)
        pipe.zadd(self._keys.camera_alert_index(event.camera_id), opened)

    def queue_event(self, pipe: Pipeline, camera_id: str, payload: dict[str, Any]) -> None:
        queue_alert_event(pipe, self._keys, camera_id, payload)

    def _queue_summary_job(self, pipe: Pipeline, event: AlertEvent) -> None:
        first = event.streak[0] if event.streak else event.result
        job = Job(
            JobKind.SUMMARY,
            event.camera_id,
            first.start_ms,  # the summary looks at the whole streak and the time before it
            event.result.end_ms,
            (event.rule.id,),
            alert_id=event.alert_id,
            reason="opened",
            fps=self._fps,
        )
        pipe.set(self._keys.job_seen(job.id), "1", ex=SEEN_TTL_S)
        pipe.xadd(self._keys.jobs, job.fields(), maxlen=self._jobs_max_len, approximate=True)  # type: ignore[arg-type]


def _opening_fields(event: AlertEvent, now: float, frames: list[FrameRecord]) -> dict[str, str]:
    onset_s = (event.onset_ms or event.result.start_ms) / 1000
    return {
        "id": event.alert_id,
        "camera": event.camera_id,
        "rule": event.rule.id,
        "severity": event.rule.severity.value,
        "question": event.rule.question,
        "state": "open",
        "onset_at": f"{onset_s:.3f}",
        "opened_at": f"{now:.3f}",  # the confirmation: when the alert opened
        "created_at": f"{now:.3f}",
        "window_start": f"{event.result.start_ms / 1000:.3f}",
        "window_end": f"{event.result.end_ms / 1000:.3f}",
        "confidence": f"{event.result.confidence:.3f}",
        "description": event.result.description,
        "evidence": json.dumps(event.evidence),
        "evidence_clip_start": f"{frames[0].ts:.3f}" if frames else "",
        "zones": marks_json(event.marks),
        "acknowledged": "0",
    }


def _evidence(result: WindowResult) -> dict[str, float] | None:
    if result.evidence_start_ms is None or result.evidence_end_ms is None:
        return None
    return {"start": result.evidence_start_ms / 1000, "end": result.evidence_end_ms / 1000}


def _encode_track(track: Track) -> dict[str, str]:
    fields = {name: str(value) for name, value in asdict(track).items() if name != "streak"}
    return fields | {"streak": json.dumps([asdict(result) for result in track.streak])}


def _decode_track(raw: dict[bytes, bytes]) -> Track:
    if not raw:
        return Track()
    fields = {key.decode(): value.decode() for key, value in raw.items()}
    return Track(
        phase=Phase(fields["phase"]),
        hits=int(fields["hits"]),
        alert_id=fields["alert_id"],
        last_window_ms=int(fields["last_window_ms"]),
        last_positive_ms=int(fields["last_positive_ms"]),
        cooldown_until_ms=int(fields["cooldown_until_ms"]),
        onset_ms=int(fields.get("onset_ms", "0")),
        streak=tuple(WindowResult(**item) for item in json.loads(fields.get("streak", "[]"))),
        last_seen_ms=int(fields.get("last_seen_ms", "0")),  # absent from older tracks
    )


def queue_alert_event(pipe: Pipeline, keys: Keys, camera_id: str, payload: dict[str, Any]) -> None:
    """Queues an alert's event on the alert streams and the outbox (webhooks, MQTT)."""
    document = {
        "type": payload["type"],
        "alert_id": payload["alert_id"],
        "camera": camera_id,
        "payload": json.dumps(payload),
    }
    for stream in (keys.alerts, keys.camera_alerts(camera_id), keys.outbox):
        pipe.xadd(stream, document, maxlen=EVENT_STREAM_MAX_LEN, approximate=True)  # type: ignore[arg-type]
