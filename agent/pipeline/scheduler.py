"""The scheduler: cuts each camera's frames into clip windows and enqueues window jobs.

It reads ``motion:{cam}`` (frame times and motion, no JPEGs), cuts windows on a fixed
grid once a later frame proves them complete, and gates each rule on the motion and change
inside its zones (less the camera's masks): a window is asked about the rules it is due
for (in one job), and skipped when none is due: no motion or change where any rule looks,
no heartbeat due, no rule ungated, no streak pending and no alert open. It never
schedules windows too old to matter. Its cursor lives in Redis, and job ids are
deterministic, so a restart or a second scheduler adds no duplicate work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import cast

import redis.asyncio as aioredis

from agent.pipeline.alert_book import AlertBook
from agent.pipeline.alert_records import AlertRecord, read_alert
from agent.pipeline.alert_state import Phase, Track, WindowResult
from agent.pipeline.archive_records import WindowRecord, add_window
from agent.pipeline.cameras_store import ZoneBook
from agent.pipeline.jobs import Job, JobKind, JobQueue
from agent.pipeline.metrics import Counters
from agent.pipeline.places import NO_ZONES, placed_rules
from agent.pipeline.progress import Progress, no_progress
from agent.pipeline.regions import Sample, change_within, motion_within, rule_regions
from agent.pipeline.rules import Rule, rules_for
from agent.pipeline.rules_store import RuleStore
from agent.pipeline.settings import PipelineSettings
from agent.pipeline.windows import Activity, Attention, Gate, Window, WindowGrid, gate
from streams.buffer.frames import latest_frame_async
from streams.bus.keys import Keys
from streams.picture.motion import Thumbnail, stamped_thumbnail
from streams.zones import CameraZones

log = logging.getLogger(__name__)

READ_COUNT = 2000
ALERT_RULES_KEPT = 10_000
SWITCHED_OFF_RECHECK_S = 30.0


CameraSource = Callable[[], Awaitable[dict[str, float]]]
"""The cameras to schedule and their sampling rates, asked for on every pass."""


def fixed_cameras(camera_fps: dict[str, float]) -> CameraSource:
    async def cameras() -> dict[str, float]:
        return camera_fps

    return cameras


@dataclass(frozen=True, slots=True)
class _Awaited:
    """The camera's last analysed window, until its verdicts are applied."""

    start_ms: int  # where its clip starts (a look-back reaches before the window)
    window_start_ms: int
    rule_ids: tuple[str, ...]
    enqueued_at: float  # monotonic seconds


@dataclass
class _Cursor:
    next_start_ms: int | None = None
    last_run_ms: int = 0
    last_clip_ms: int = 0  # where the last analysed window's clip started: its job's id
    last_read_id: str = "0-0"
    last_frame_ms: int = 0
    entries: list[Sample] = field(default_factory=list)
    awaited: _Awaited | None = None
    reference: Thumbnail | None = None  # the last analysed window's last picture
    # Per rule: the last picture it was asked about, and when (a rule's zones may see
    # change that the windows asked for other rules never compared).
    references: dict[str, Thumbnail] = field(default_factory=dict)
    rule_runs: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Plan:
    """What to do with one window: the rules to ask (none: skip) and why."""

    gate: Gate
    rule_ids: tuple[str, ...]


# When rules are due for different reasons, the job names the first of these.
_GATE_ORDER = (Gate.MOTION, Gate.CHANGE, Gate.HEARTBEAT, Gate.ALWAYS)


def plan_window(
    activities: Mapping[str, Activity],
    rules: list[Rule],
    attention: Attention,
    settings: PipelineSettings,
) -> Plan:
    """Pure: gating of one complete window, each rule on the activity where it looks. A
    pending streak or an open alert on the camera has every rule asked, as ever."""
    if attention is not Attention.NONE:
        any_activity = next(iter(activities.values()))
        decision = gate(any_activity, attention, settings.motion_threshold, settings.heartbeat_s)
        return Plan(decision, tuple(rule.id for rule in rules))
    due: dict[str, Gate] = {}
    for rule in rules:
        decision = gate(
            activities[rule.id], attention, settings.motion_threshold, settings.heartbeat_s
        )
        if decision is Gate.STILL and not rule.motion_gated:
            decision = Gate.ALWAYS
        if decision is not Gate.STILL:
            due[rule.id] = decision
    if not due:
        return Plan(Gate.STILL, ())
    reason = next(gate for gate in _GATE_ORDER if gate in due.values())
    return Plan(reason, tuple(due))


def attention_of(tracks: list[Track]) -> Attention:
    if any(track.phase is Phase.OPEN for track in tracks):
        return Attention.OPEN
    if any(track.pending for track in tracks):
        return Attention.PENDING
    return Attention.NONE


class Scheduler:
    def __init__(
        self,
        client: aioredis.Redis,
        keys: Keys,
        settings: PipelineSettings,
        cameras: CameraSource,
    ) -> None:
        self._client = client
        self._keys = keys
        self._settings = settings
        self._cameras = cameras
        self._camera_fps: dict[str, float] = {}
        self._ticked = False
        self._grid = WindowGrid(round(settings.window_s * 1000), round(settings.stride_s * 1000))
        self._confirm_ms = min(round(settings.confirm_stride_s * 1000), self._grid.stride_ms)
        self._rules = RuleStore(client, keys)
        self._zone_book = ZoneBook(client, keys)
        self._zones: dict[str, CameraZones] = {}
        self._queue = JobQueue(client, keys, settings.jobs_max_len)
        self._counters = Counters(client, keys)
        self._alerts = AlertBook(
            client, keys, jobs_max_len=settings.jobs_max_len, evidence=settings.evidence
        )
        self._cursors: dict[str, _Cursor] = {}
        self._alert_rules: dict[str, str] = {}  # alert id: its rule
        # camera: its applying rules when its open alerts were last checked, and when
        self._applying: dict[str, tuple[frozenset[str], float]] = {}

    async def run(self, stop: asyncio.Event, progress: Progress = no_progress) -> None:
        progress("scheduler")
        await self._queue.ensure_group()
        log.info("scheduler started")
        while not stop.is_set():
            progress("scheduler")
            try:
                await self.tick()
            except (aioredis.ConnectionError, aioredis.TimeoutError) as error:
                log.warning("scheduler: redis unavailable: %s", error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._settings.scheduler_poll_s)
        log.info("scheduler stopped")

    async def tick(self) -> int:
        """One pass over every camera; returns the number of jobs enqueued."""
        rules = await self._rules.all()
        self._zones = await self._zone_book.all()
        scheduled_before = set(self._camera_fps) if self._ticked else await self._stored_cameras()
        self._ticked = True
        self._camera_fps = dict(await self._cameras())  # a copy: the source may change it
        for camera_id in sorted(scheduled_before - set(self._camera_fps)):
            await self._close_open_alerts(camera_id, rules, "the camera was switched off")
        enqueued = 0
        for camera_id in self._camera_fps:
            enqueued += await self._camera_tick(camera_id, rules)
        return enqueued

    async def _camera_tick(self, camera_id: str, rules: list[Rule]) -> int:
        """Considers the camera's complete windows in order. After a window is queued, the
        next one waits for its verdicts: they decide whether it is forced (a streak
        pending or an alert open) and how soon it starts (a pending streak is confirmed
        by a window cut ``confirm_stride_s`` after it)."""
        cursor = await self._cursor(camera_id)
        await self._read_motion(camera_id, cursor)
        await self._close_alerts_if_silent(camera_id, cursor, rules)
        await self._close_alerts_switched_off(camera_id, rules)
        if not cursor.entries:
            return 0
        if cursor.next_start_ms is None:
            cursor.next_start_ms = self._grid.first_start_at_or_after(cursor.entries[0].ms)
        enqueued = considered = 0
        while await self._verdicts_in(camera_id, cursor, rules):
            window = self._grid.window(camera_id, cursor.next_start_ms)
            if window.end_ms > cursor.entries[-1].ms:
                break
            enqueued += await self._consider(window, cursor, rules)
            cursor.next_start_ms = window.start_ms + self._grid.stride_ms
            considered += 1
        if considered:
            keep_from = cursor.next_start_ms - self._grid.size_ms
            cursor.entries = [entry for entry in cursor.entries if entry.ms >= keep_from]
            await self._save(camera_id, cursor)
        return enqueued

    async def _verdicts_in(self, camera_id: str, cursor: _Cursor, rules: list[Rule]) -> bool:
        """Whether the next window can be decided: the last queued window's verdicts are
        applied (or waited for long enough). A pending streak then moves the next window
        to ``confirm_stride_s`` after the queued one."""
        awaited = cursor.awaited
        if awaited is None:
            return True
        tracks = await self._tracks(camera_id, [r for r in rules if r.id in awaited.rule_ids])
        applied = all(track.last_window_ms >= awaited.start_ms for track in tracks)
        if not applied and time.monotonic() - awaited.enqueued_at < self._settings.verdict_wait_s:
            return False
        if not applied:
            await self._counters.add("verdicts_not_awaited", camera_id)
        cursor.awaited = None
        if any(track.pending for track in tracks) and cursor.next_start_ms is not None:
            confirm_at = awaited.window_start_ms + self._confirm_ms
            cursor.next_start_ms = min(cursor.next_start_ms, confirm_at)
        return True

    async def _consider(self, window: Window, cursor: _Cursor, rules: list[Rule]) -> int:
        camera_id = window.camera_id
        if time.time() - window.end_s > self._settings.max_window_age_s:
            await self._counters.add("windows_skipped_late", camera_id)
            return 0
        entries = [entry for entry in cursor.entries if window.start_ms <= entry.ms < window.end_ms]
        expected = self._settings.window_s * self._camera_fps[camera_id]
        if len(entries) < expected * self._settings.min_frame_share:
            await self._counters.add("windows_skipped_sparse", camera_id)
            return 0
        zones = self._zones.get(camera_id, NO_ZONES)
        active = placed_rules(rules_for(rules, camera_id, window.start_s), zones)
        if not active:
            return 0
        picture = await self._last_picture(window)
        activities = self._activities(window, entries, picture, active, zones, cursor)
        attention = attention_of(await self._tracks(camera_id, active))
        plan = plan_window(activities, active, attention, self._settings)
        if plan.gate is Gate.STILL:
            await self._counters.add("windows_skipped_still", camera_id)
            await self._archive_still(window, entries, cursor)
            return 0
        start_ms = self._clip_start(window, plan, cursor)
        cursor.last_run_ms = window.start_ms
        cursor.last_clip_ms = start_ms
        if picture is not None:
            cursor.reference = picture
            cursor.references.update(dict.fromkeys(plan.rule_ids, picture))
        cursor.rule_runs.update(dict.fromkeys(plan.rule_ids, window.start_ms))
        cursor.awaited = _Awaited(start_ms, window.start_ms, plan.rule_ids, time.monotonic())
        return await self._enqueue(window, start_ms, plan)

    def _activities(
        self,
        window: Window,
        entries: list[Sample],
        picture: Thumbnail | None,
        rules: list[Rule],
        zones: CameraZones,
        cursor: _Cursor,
    ) -> dict[str, Activity]:
        """What each rule's gate knows of the window: motion and change where it looks,
        and the time since it was last asked."""
        activities = {}
        for rule_id, cells in rule_regions(rules, zones).items():
            reference = cursor.references.get(rule_id, cursor.reference)
            last_run_ms = cursor.rule_runs.get(rule_id, cursor.last_run_ms)
            activities[rule_id] = Activity(
                max_motion=motion_within(entries, cells),
                change=change_within(reference, picture, cells) if picture is not None else 1.0,
                since_last_run_s=(window.start_ms - last_run_ms) / 1000,
            )
        return activities

    async def _archive_still(self, window: Window, entries: list[Sample], cursor: _Cursor) -> None:
        """A still window is archived as unchanged since the last analysed one: no call."""
        record = WindowRecord(
            camera_id=window.camera_id,
            start_ms=window.start_ms,
            end_ms=window.end_ms,
            caption="",
            verdicts=(),
            unchanged_since=f"{window.camera_id}:{cursor.last_clip_ms or cursor.last_run_ms}",
            thumbnail_ms=entries[len(entries) // 2].ms,
        )
        await add_window(self._client, self._keys, record)

    def _clip_start(self, window: Window, plan: Plan, cursor: _Cursor) -> int:
        """Where the window's clip starts. A change that built up unseen may have begun in
        the still window skipped before this one: the clip then reaches back over it (one
        stride at most, never into the last analysed window), so the onset is in view."""
        if plan.gate is not Gate.CHANGE or cursor.reference is None:
            return window.start_ms
        last_analysed_end_ms = cursor.last_run_ms + self._grid.size_ms
        return max(
            window.start_ms - self._grid.stride_ms, min(last_analysed_end_ms, window.start_ms)
        )

    async def _enqueue(self, window: Window, start_ms: int, plan: Plan) -> int:
        camera_id = window.camera_id
        job = Job(
            JobKind.WINDOW,
            camera_id,
            start_ms,
            window.end_ms,
            plan.rule_ids,
            reason=plan.gate.value,
            fps=self._camera_fps[camera_id],
        )
        if not await self._queue.enqueue(job):
            return 0
        await self._counters.add("windows_scheduled", camera_id)
        return 1

    async def _tracks(self, camera_id: str, rules: list[Rule]) -> list[Track]:
        return [await self._alerts.track(camera_id, rule.id) for rule in rules]

    async def _last_picture(self, window: Window) -> Thumbnail | None:
        """The thumbnail of the window's last frame, to compare with the last analysed."""
        record = await latest_frame_async(
            self._client, self._keys, window.camera_id, before_s=window.end_s
        )
        if record is None or record.ts < window.start_s:
            return None
        return stamped_thumbnail(record.jpeg)

    async def _close_alerts_if_silent(
        self, camera_id: str, cursor: _Cursor, rules: list[Rule]
    ) -> None:
        """A camera that sends nothing produces no windows, so nothing would ever close
        its open alerts: once it has been silent past a rule's close time, a negative
        result for the silent stretch closes them (replays of it change nothing)."""
        silent_s = time.time() - cursor.last_frame_ms / 1000
        if not cursor.last_frame_ms or silent_s < 2 * self._settings.window_s:
            return
        if not await self._has_open_alert(camera_id):
            return
        result = WindowResult(
            start_ms=cursor.last_frame_ms + 1, end_ms=round(time.time() * 1000), detected=False,
            confidence=0.0, description=f"no frames from the camera for {silent_s:.0f} s",
        )  # fmt: skip
        for rule in rules:
            if rule.applies_to(camera_id) and silent_s >= rule.close_after_s:
                await self._alerts.apply(camera_id, rule, result)

    async def _close_alerts_switched_off(self, camera_id: str, rules: list[Rule]) -> None:
        """A rule switched off on a camera, or deleted, gets no more windows there, so
        nothing would close its open alert: it is closed at once instead."""
        applying = frozenset(rule.id for rule in rules if rule.applies_to(camera_id))
        checked = self._applying.get(camera_id)
        now = time.monotonic()
        # Alerts open only for applying rules, but for a window answered just as its rule
        # went: the camera's open alerts are read when its rules change, and now and then.
        if checked and checked[0] == applying and now < checked[1] + SWITCHED_OFF_RECHECK_S:
            return
        self._applying[camera_id] = (applying, now)
        await self._close_open_alerts(
            camera_id, rules, "the rule was switched off or deleted", applying
        )

    async def _close_open_alerts(
        self, camera_id: str, rules: list[Rule], why: str, keep: frozenset[str] = frozenset()
    ) -> None:
        """Closes the camera's open alerts but those of the rules in ``keep``; an alert of
        a deleted rule closes under its record's terms."""
        open_rules = await self._open_alert_rules(camera_id)
        closing = {alert_id: rule for alert_id, rule in open_rules.items() if rule not in keep}
        if not closing:
            return
        by_id = {rule.id: rule for rule in rules}
        now_ms = round(time.time() * 1000)
        result = WindowResult(
            start_ms=now_ms, end_ms=now_ms, detected=False, confidence=0.0, description=why
        )
        for alert_id, rule_id in sorted(closing.items()):
            record = await read_alert(self._client, self._keys, alert_id)
            if record is None or record.state != "open":
                continue
            rule = by_id.get(rule_id) or _deleted_rule(record)
            if (await self._alerts.track(camera_id, rule_id)).phase is Phase.OPEN:
                await self._alerts.apply(
                    camera_id, rule.model_copy(update={"close_after_s": 0.0}), result
                )

    async def _stored_cameras(self) -> set[str]:
        """Every camera Redis holds, switched off or not: one switched off while no
        scheduler ran may have alerts left open."""
        cameras = cast(list[bytes], await self._client.hkeys(self._keys.cameras))
        return {camera.decode() for camera in cameras}

    async def _open_alert_rules(self, camera_id: str) -> dict[str, str]:
        """The camera's open alerts and the rule of each (remembered: it never changes)."""
        members = cast(set[bytes], await self._client.smembers(self._keys.open_alerts(camera_id)))
        alert_ids = sorted(member.decode() for member in members)
        if len(self._alert_rules) > ALERT_RULES_KEPT:
            self._alert_rules.clear()  # mostly closed alerts by now; open ones are read again
        for alert_id in alert_ids:
            if alert_id not in self._alert_rules:
                record = await read_alert(self._client, self._keys, alert_id)
                if record is not None:
                    self._alert_rules[alert_id] = record.rule
        return {
            alert_id: self._alert_rules[alert_id]
            for alert_id in alert_ids
            if alert_id in self._alert_rules
        }

    async def _read_motion(self, camera_id: str, cursor: _Cursor) -> None:
        reply = await self._client.xrange(
            self._keys.motion(camera_id), min=f"({cursor.last_read_id}", count=READ_COUNT
        )
        entries = cast(list[tuple[bytes, dict[bytes, bytes]]], reply)
        for entry_id, fields in entries:
            ms = int(entry_id.split(b"-")[0])
            cursor.entries.append(Sample(ms, float(fields[b"motion"]), fields.get(b"changes", b"")))
        if entries:
            cursor.last_read_id = entries[-1][0].decode()
            cursor.last_frame_ms = cursor.entries[-1].ms

    async def _has_open_alert(self, camera_id: str) -> bool:
        return bool(await self._client.scard(self._keys.open_alerts(camera_id)))

    async def _cursor(self, camera_id: str) -> _Cursor:
        if camera_id in self._cursors:
            return self._cursors[camera_id]
        raw = await self._client.hgetall(self._keys.schedule(camera_id))
        stored = cast(dict[bytes, bytes], raw)
        # A camera seen for the first time starts at the present: what is older than
        # the window age limit would only be skipped as late.
        fresh_from_ms = round((time.time() - self._settings.max_window_age_s) * 1000)
        cursor = _Cursor(last_read_id=f"{fresh_from_ms}-0")
        if b"next_start_ms" in stored:
            cursor.next_start_ms = int(stored[b"next_start_ms"])
            cursor.last_run_ms = int(stored.get(b"last_run_ms", b"0"))
            cursor.last_clip_ms = int(stored.get(b"last_clip_ms", b"0"))
            cursor.last_read_id = f"{cursor.next_start_ms - 1}-0"
        self._cursors[camera_id] = cursor
        return cursor

    async def _save(self, camera_id: str, cursor: _Cursor) -> None:
        await self._client.hset(
            self._keys.schedule(camera_id),
            mapping={
                "next_start_ms": str(cursor.next_start_ms),
                "last_run_ms": str(cursor.last_run_ms),
                "last_clip_ms": str(cursor.last_clip_ms),
            },
        )


def _deleted_rule(record: AlertRecord) -> Rule:
    """The rule of an open alert whose rule was deleted, as far as closing it needs."""
    return Rule.model_validate(
        {"id": record.rule, "question": record.question, "severity": record.severity}
    )
