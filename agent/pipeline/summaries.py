"""Root-cause summaries: a reasoning pass over the time that led to an alert.

A summary is written once: only by the worker that still holds its job when the model
has answered (one paused past ``claim_idle_s`` finds it taken over and drops its answer),
only while the alert is in Redis, and only if no summary was written before.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import asdict
from typing import cast

import redis.asyncio as aioredis

from agent.engines import Engine
from agent.engines.answers import ReasoningAnswer
from agent.engines.clip_times import place_times
from agent.engines.prompts import ClipFacts, zone_question
from agent.pipeline.alert_book import AlertBook
from agent.pipeline.alert_state import EventType
from agent.pipeline.jobs import Held, Job, JobTakenOverError, always_held
from agent.pipeline.metrics import Counters, engine_usage
from agent.pipeline.places import marks_from_json
from agent.pipeline.settings import PipelineSettings
from streams.buffer.frames import FrameRecord, read_frames_async
from streams.bus.keys import Keys
from streams.picture.marks import Marks

log = logging.getLogger(__name__)


def root_cause_question(rule_question: str, window_from_s: float, window_to_s: float) -> str:
    return (
        f'An alert was raised for the rule "{rule_question.strip()}" from '
        f"{window_from_s:.2f}s to {window_to_s:.2f}s of this video. What led to it? Describe "
        "what happened before and during that time, who or what was involved, and the "
        "most likely root cause, in two or three sentences."
    )


def thin_to_rate(
    records: list[FrameRecord], fps: float, target_fps: float
) -> tuple[list[FrameRecord], float]:
    """Every n-th frame so the clip runs at about ``target_fps`` (an even count kept),
    and the rate the thinned frames really have."""
    step = max(1, round(fps / target_fps))
    thinned = records[::step]
    return thinned[: len(thinned) - len(thinned) % 2] or thinned, fps / step


class Summarizer:
    def __init__(
        self,
        client: aioredis.Redis,
        keys: Keys,
        engine: Engine,
        settings: PipelineSettings,
        alerts: AlertBook,
    ) -> None:
        self._client = client
        self._keys = keys
        self._engine = engine
        self._settings = settings
        self._alerts = alerts
        self._counters = Counters(client, keys)

    async def run(self, job: Job, held: Held = always_held) -> None:
        """Raises JobTakenOverError when the job is no longer ``held`` once the model
        answered (or the frames were found gone)."""
        alert_key = self._keys.alert(job.alert_id)
        alert = cast(dict[bytes, bytes], await self._client.hgetall(alert_key))
        if not alert or b"summarized_at" in alert:
            return
        start_s = job.start_ms / 1000 - self._settings.summary_context_s
        records = await read_frames_async(
            self._client, self._keys, job.camera_id, start_s, job.end_ms / 1000
        )
        records, clip_fps = thin_to_rate(records, job.fps, self._settings.summary_fps)
        if len(records) < 2:
            failure: dict[str, object] = {"summary_failure": "frames no longer in the buffer"}
            await self._store(job, alert, failure, held)
            return
        # The rule's zones outlined as its windows showed them (uncropped: the cause may
        # lie outside them).
        drawn = marks_from_json(alert.get(b"zones", b"").decode())
        clip = await asyncio.to_thread(self._engine.clip, records, clip_fps, Marks(drawn))
        offset_s = job.start_ms / 1000 - records[0].ts
        rule_question = zone_question(
            alert[b"question"].decode(), [(mark.label, mark.colour) for mark in drawn]
        )
        question = root_cause_question(
            rule_question, offset_s, offset_s + (job.end_ms - job.start_ms) / 1000
        )
        answer = await self._engine.reason(clip, question)
        await self._counters.add_many(engine_usage(answer.completion), job.camera_id)
        fields: dict[str, object] = {
            "summary": answer.answer or "",
            "reasoning": answer.reasoning or "",
            "summary_failure": answer.failure or "",
            **placed_summary(answer, clip.facts),
        }
        if not answer.ok:
            fields["summary_raw"] = answer.completion.text[:20_000]
        await self._store(job, alert, fields, held)

    async def _store(
        self, job: Job, alert: dict[bytes, bytes], fields: dict[str, object], held: Held
    ) -> None:
        """Writes the summary and its event once, however often the job runs and whoever
        runs it: not after the job was taken over, not over an alert that left Redis
        meanwhile, not a second time."""
        if not await held():  # held now: no other worker can take it before the write
            raise JobTakenOverError(job.id)
        alert_key = self._keys.alert(job.alert_id)
        async with self._client.pipeline(transaction=True) as pipe:
            await pipe.watch(alert_key)
            alert_id, summarized = await pipe.hmget(alert_key, ["id", "summarized_at"])
            if alert_id is None or summarized is not None:
                await pipe.unwatch()  # type: ignore[no-untyped-call]
                return
            pipe.multi()  # type: ignore[no-untyped-call]
            stored = {name: _hash_value(value) for name, value in fields.items()}
            pipe.hset(alert_key, mapping={**stored, "summarized_at": "1"})  # type: ignore[dict-item]
            payload = {
                "type": EventType.SUMMARIZED.value,
                "alert_id": job.alert_id,
                "camera": job.camera_id,
                "rule": alert.get(b"rule", b"").decode(),
                "severity": alert.get(b"severity", b"").decode(),
                **fields,
            }
            self._alerts.queue_event(pipe, job.camera_id, payload)
            await pipe.execute()
        failure = str(fields.get("summary_failure", ""))
        log.info("alert %s summarized%s", job.alert_id, f" (failed: {failure})" if failure else "")


def placed_summary(answer: ReasoningAnswer, facts: ClipFacts) -> dict[str, object]:
    """The summary and reasoning with their clip times placed on the wall clock, and the
    clip they count from (clip second t is ``summary_clip_start + t``)."""
    summary = place_times(answer.answer or "", facts.start_s, facts.duration_s)
    reasoning = place_times(answer.reasoning or "", facts.start_s, facts.duration_s)
    return {
        "summary_placed": summary.text,
        "summary_times": [asdict(time) for time in summary.times],
        "reasoning_placed": reasoning.text,
        "reasoning_times": [asdict(time) for time in reasoning.times],
        "summary_clip_start": round(facts.start_s, 3),
        "summary_clip_end": round(facts.start_s + facts.duration_s, 3),
        "summary_clip_fps": facts.fps,
    }


def _hash_value(value: object) -> str:
    """Strings as they are, numbers and lists as JSON (the event carries them typed)."""
    return value if isinstance(value, str) else json.dumps(value)
