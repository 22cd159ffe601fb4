"""Running one window job: fresh enough? frames, one engine call for all rules, alerts."""

from __future__ import annotations

import asyncio
import logging
import time

import redis.asyncio as aioredis

from agent.engines import Engine
from agent.engines.answers import Verdict, VerdictAnswer
from agent.pipeline.alert_book import AlertBook, EvidenceFrames
from agent.pipeline.alert_state import WindowResult
from agent.pipeline.archive_records import (
    RuleVerdict,
    WindowRecord,
    add_window,
    unparsed_verdicts,
)
from agent.pipeline.cameras_store import CameraStore
from agent.pipeline.jobs import Held, Job, JobTakenOverError, always_held
from agent.pipeline.metrics import Counters, engine_usage
from agent.pipeline.places import NO_ZONES, call_marks, placed_rules, rule_marks
from agent.pipeline.rules import Rule
from agent.pipeline.rules_store import RuleStore
from agent.pipeline.settings import PipelineSettings
from streams.buffer.frames import FrameRecord, read_frames_async
from streams.bus.keys import Keys
from streams.zones import CameraZones

log = logging.getLogger(__name__)

FAILURES_MAX_LEN = 1000


class WindowRunner:
    def __init__(
        self,
        client: aioredis.Redis,
        keys: Keys,
        engine: Engine,
        settings: PipelineSettings,
        rules: RuleStore,
        alerts: AlertBook,
        counters: Counters,
    ) -> None:
        self._client = client
        self._keys = keys
        self._engine = engine
        self._settings = settings
        self._rules = rules
        self._alerts = alerts
        self._counters = counters

    async def run(self, job: Job, first_attempt: bool, held: Held = always_held) -> None:
        """Raises JobTakenOverError when the job is no longer ``held`` once the model answered."""
        # A job that was taken before (a worker died holding it) is finished whatever its
        # age: it was admitted once, and dropping it now could lose an alert.
        if first_attempt and await self._shed(job):
            return
        zones = await self._zones(job.camera_id)
        rules = placed_rules(list((await self._applying_rules(job)).values()), zones)
        if not rules:
            await self._counters.add("windows_without_rules", job.camera_id)
            return
        records = await read_frames_async(
            self._client, self._keys, job.camera_id, job.start_ms / 1000, job.end_ms / 1000
        )
        if len(records) < 2:
            await self._counters.add("windows_expired", job.camera_id)
            log.warning("window %s: its frames are no longer in the buffer", job.id)
            return
        marks, questions = call_marks(rules, zones)
        clip = await asyncio.to_thread(self._engine.clip, records, job.fps, marks)
        answer = await self._engine.verdicts(clip, questions)
        if not await held():
            raise JobTakenOverError(job.id)
        usage = engine_usage(answer.completion)
        await self._counters.add_many({"windows_processed": 1, **usage}, job.camera_id)
        if not answer.ok:
            await self._record_failure(job, answer)
            # Archived all the same, marked unparsed: the timeline has no hole.
            await add_window(self._client, self._keys, _archive_record(job, answer, records, rules))
            return
        # Read again: a rule switched off or deleted while the model was answering must
        # not open an alert (its open one was closed by the scheduler meanwhile).
        current = await self._applying_rules(job)
        for verdict in answer.verdicts:
            rule = current.get(verdict.question_id)
            if rule is None:
                await self._counters.add("verdicts_for_rules_switched_off", job.camera_id)
                continue
            await self._alerts.apply(
                job.camera_id,
                rule,
                _result(job, verdict),
                self._stored_frames(job.camera_id),
                rule_marks(marks, rule),
            )
        # After the alerts: a worker that dies before this line re-runs the job, and the
        # archiver keeps one row per window id however often it is added.
        await add_window(self._client, self._keys, _archive_record(job, answer, records, rules))

    async def _applying_rules(self, job: Job) -> dict[str, Rule]:
        """The job's rules that still apply to its camera, by id."""
        return {
            rule.id: rule
            for rule in await self._rules.all()
            if rule.id in job.rule_ids and rule.applies_to(job.camera_id)
        }

    async def _zones(self, camera_id: str) -> CameraZones:
        camera = await CameraStore(self._client, self._keys).get(camera_id)
        return NO_ZONES if camera is None else camera.zone_set()

    def _stored_frames(self, camera_id: str) -> EvidenceFrames:
        async def frames(start_s: float, end_s: float) -> list[FrameRecord]:
            return await read_frames_async(self._client, self._keys, camera_id, start_s, end_s)

        return frames

    async def _shed(self, job: Job) -> bool:
        age_s = time.time() - job.end_ms / 1000
        if age_s > self._settings.max_window_age_s:
            await self._counters.add("windows_shed_stale", job.camera_id)
            return True
        latest = await self._client.hget(self._keys.schedule(job.camera_id), "latest_ms")
        if latest is not None and int(latest) > job.start_ms:
            await self._counters.add("windows_shed_superseded", job.camera_id)
            return True
        return False

    async def _record_failure(self, job: Job, answer: VerdictAnswer) -> None:
        log.warning("window %s: unparseable answer: %s", job.id, answer.failure)
        await self._counters.add("verdicts_unparsed", job.camera_id)
        await self._client.xadd(
            self._keys.verdict_failures,
            {
                "job": job.id,
                "camera": job.camera_id,
                "failure": answer.failure or "",
                "raw": answer.completion.text[:20_000],
            },
            maxlen=FAILURES_MAX_LEN,
            approximate=True,
        )


def _archive_record(
    job: Job, answer: VerdictAnswer, records: list[FrameRecord], asked: list[Rule]
) -> WindowRecord:
    """The window for the archive: its caption and verdicts, or, when the answer did not
    parse, each rule ``asked`` marked unparsed and no caption."""
    return WindowRecord(
        camera_id=job.camera_id,
        start_ms=job.start_ms,
        end_ms=job.end_ms,
        caption=answer.caption if answer.ok else "",
        verdicts=_archive_verdicts(answer, asked),
        unchanged_since=None,
        thumbnail_ms=records[len(records) // 2].ts_ms,
    )


def _archive_verdicts(answer: VerdictAnswer, asked: list[Rule]) -> tuple[RuleVerdict, ...]:
    if not answer.ok:
        rule_ids = [rule.id for rule in asked]
        return unparsed_verdicts(rule_ids, answer.failure or "", answer.completion.text)
    return tuple(
        RuleVerdict(verdict.question_id, verdict.detected, verdict.confidence, verdict.description)
        for verdict in answer.verdicts
    )


def _result(job: Job, verdict: Verdict) -> WindowResult:
    evidence = verdict.evidence
    return WindowResult(
        start_ms=job.start_ms,
        end_ms=job.end_ms,
        detected=verdict.detected,
        confidence=verdict.confidence,
        description=verdict.description,
        evidence_start_ms=round(evidence.start_epoch_s * 1000) if evidence else None,
        evidence_end_ms=round(evidence.end_epoch_s * 1000) if evidence else None,
    )
