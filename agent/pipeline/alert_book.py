"""Alerts in Redis: applies window results to each (camera, rule) track atomically.

A window that causes an event is applied in one transaction per (camera, rule): it reads
the track under WATCH, steps the state machine and writes the new track together with
everything the transition causes: the alert record, its evidence, its events on
``alerts``, ``alerts:<cam>`` and ``outbox``, and the root-cause summary job. A window
that only moves the track is written with a compare-and-set on the track's last window.
A replayed or redelivered window steps nothing, so nothing is written twice.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
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
from agent.pipeline.rules import Rule
from streams.keys import Keys

EVENT_STREAM_MAX_LEN = 100_000

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

    def payload(self) -> dict[str, Any]:
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
            "evidence": _evidence(self.result),
        }


class AlertBook:
    def __init__(
        self, client: aioredis.Redis, keys: Keys, fps: float = 4.0, jobs_max_len: int = 10_000
    ) -> None:
        self._client = client
        self._fps = fps
        self._keys = keys
        self._jobs_max_len = jobs_max_len
        self._set_track_if = client.register_script(_SET_TRACK_IF)

    async def apply(
        self, camera_id: str, rule: Rule, result: WindowResult, frames: list[bytes]
    ) -> AlertEvent | None:
        """Steps the track with one window; returns the event it caused, if any."""
        key = self._keys.track(camera_id, rule.id)
        if await self._step_without_event(key, camera_id, rule, result):
            return None
        async with self._client.pipeline(transaction=True) as pipe:
            while True:
                try:
                    return await self._apply_once(pipe, key, camera_id, rule, result, frames)
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
        frames: list[bytes],
    ) -> AlertEvent | None:
        await pipe.watch(key)
        track = _decode_track(cast(dict[bytes, bytes], await pipe.hgetall(key)))
        new_track, transition = step(track, result, policy_of(rule), camera_id, rule.id)
        if new_track == track:
            await pipe.unwatch()  # type: ignore[no-untyped-call]
            return None
        pipe.multi()  # type: ignore[no-untyped-call]
        pipe.hset(key, mapping=_encode_track(new_track))  # type: ignore[arg-type]
        event = None
        if transition is not None:
            event = AlertEvent(transition.event, transition.alert_id, camera_id, rule, result)
            self._queue_transition(pipe, event, transition, frames)
        await pipe.execute()
        return event

    def _queue_transition(
        self, pipe: Pipeline, event: AlertEvent, transition: Transition, frames: list[bytes]
    ) -> None:
        alert_key = self._keys.alert(event.alert_id)
        now = time.time()
        fields: dict[str, str] = {
            "updated_at": f"{now:.3f}",
            "last_description": event.result.description,
        }
        if event.type is EventType.OPENED:
            fields |= _opening_fields(event, now)
            pipe.sadd(self._keys.open_alerts(event.camera_id), event.alert_id)
            if frames:
                pipe.rpush(self._keys.evidence(event.alert_id), *frames)
            self._queue_summary_job(pipe, event)
        elif event.type is EventType.CLOSED:
            fields |= {"state": "closed", "closed_at": f"{event.result.end_ms / 1000:.3f}"}
            pipe.srem(self._keys.open_alerts(event.camera_id), event.alert_id)
        if event.type is not EventType.CLOSED:
            pipe.hincrby(alert_key, "windows", 1)
            pipe.hset(alert_key, "last_positive_at", f"{event.result.end_ms / 1000:.3f}")
        pipe.hset(alert_key, mapping=fields)  # type: ignore[arg-type]
        window = {
            "type": event.type.value,
            **event.payload()["window"],
            "confidence": event.result.confidence,
            "description": event.result.description,
            "detected": event.result.detected,
            "evidence": _evidence(event.result),
        }
        pipe.rpush(self._keys.alert_windows(event.alert_id), json.dumps(window))
        self.queue_event(pipe, event.camera_id, event.payload())

    def queue_event(self, pipe: Pipeline, camera_id: str, payload: dict[str, Any]) -> None:
        document = {
            "type": payload["type"],
            "alert_id": payload["alert_id"],
            "camera": camera_id,
            "payload": json.dumps(payload),
        }
        for stream in (self._keys.alerts, self._keys.camera_alerts(camera_id), self._keys.outbox):
            pipe.xadd(stream, document, maxlen=EVENT_STREAM_MAX_LEN, approximate=True)  # type: ignore[arg-type]

    def _queue_summary_job(self, pipe: Pipeline, event: AlertEvent) -> None:
        job = Job(
            JobKind.SUMMARY,
            event.camera_id,
            event.result.start_ms,
            event.result.end_ms,
            (event.rule.id,),
            alert_id=event.alert_id,
            reason="opened",
            fps=self._fps,
        )
        pipe.set(self._keys.job_seen(job.id), "1", ex=SEEN_TTL_S)
        pipe.xadd(self._keys.jobs, job.fields(), maxlen=self._jobs_max_len, approximate=True)  # type: ignore[arg-type]


def _opening_fields(event: AlertEvent, now: float) -> dict[str, str]:
    return {
        "id": event.alert_id,
        "camera": event.camera_id,
        "rule": event.rule.id,
        "severity": event.rule.severity.value,
        "question": event.rule.question,
        "state": "open",
        "opened_at": f"{event.result.start_ms / 1000:.3f}",
        "created_at": f"{now:.3f}",
        "window_start": f"{event.result.start_ms / 1000:.3f}",
        "window_end": f"{event.result.end_ms / 1000:.3f}",
        "confidence": f"{event.result.confidence:.3f}",
        "description": event.result.description,
        "evidence": json.dumps(_evidence(event.result)),
        "acknowledged": "0",
    }


def _evidence(result: WindowResult) -> dict[str, float] | None:
    if result.evidence_start_ms is None or result.evidence_end_ms is None:
        return None
    return {"start": result.evidence_start_ms / 1000, "end": result.evidence_end_ms / 1000}


def _encode_track(track: Track) -> dict[str, str]:
    return {name: str(value) for name, value in dataclasses.asdict(track).items()}


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
    )
