"""The report scheduler: one process at a time (a Redis lease) makes each schedule's due
reports, stores them in the archive and delivers each once.

A report's id is its schedule and the end of its period, and its "done" mark is written
with its event, after it is stored: a scheduler that dies midway makes it again (the
archive keeps one row per id) and delivers it then; one that finished never again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis

from agent.pipeline.cameras_store import CameraStore
from agent.pipeline.progress import Progress, no_progress
from agent.reports.builder import ReportSources, build_report
from agent.reports.delivery import deliver
from agent.reports.schedules import ReportSchedule, ScheduleStore, period_ends, scheduled_report_id
from agent.reports.store import ReportStore
from streams.bus.backoff import Backoff
from streams.bus.keys import Keys
from streams.bus.lease import Lease

log = logging.getLogger(__name__)

LEASE_S = 60.0
POLL_S = 20.0
PROGRESS_S = 10.0
RETRY_INITIAL_S, RETRY_CAP_S = 2.0, 60.0

Opener = Callable[[], Awaitable[tuple[ReportSources, ReportStore]]]
"""Opens the archive's stores (each round: the archive may appear after start)."""


class ReportRunner:
    def __init__(self, client: aioredis.Redis, keys: Keys, opener: Opener, owner: str) -> None:
        self._client = client
        self._keys = keys
        self._open = opener
        self._lease = Lease(client, keys.report_leader, owner, LEASE_S)
        self._schedules = ScheduleStore(client, keys)

    async def run(self, stop: asyncio.Event, progress: Progress = no_progress) -> None:
        backoff = Backoff(RETRY_INITIAL_S, RETRY_CAP_S)
        try:
            while not stop.is_set():
                progress("reports")
                delay = POLL_S
                try:
                    if await self._lease.hold():
                        await _reporting(self.run_due(), progress)
                    backoff.reset()
                except Exception as error:  # Redis, the archive or the engine: retry
                    delay = backoff.next_delay_s()
                    log.warning("reports: %s; retrying in %.1f s", error, delay)
                await _sleep_unless(stop, delay)
        finally:
            await self._lease.release()

    async def run_due(self, now_s: float | None = None) -> list[str]:
        """Makes and delivers every due report not delivered yet; returns their ids."""
        now_s = time.time() if now_s is None else now_s
        made = []
        for schedule in await self._schedules.all():
            if not schedule.enabled:
                continue
            for end_s in period_ends(schedule, now_s):
                report_id = scheduled_report_id(schedule, end_s)
                if await self._client.hexists(self._keys.reports_done, report_id):
                    continue
                await self._make(schedule, report_id, end_s)
                made.append(report_id)
        return made

    async def _make(self, schedule: ReportSchedule, report_id: str, end_s: float) -> None:
        sources, store = await self._open()
        cameras = schedule.cameras or await _camera_ids(self._client, self._keys)
        period = (end_s - schedule.hours * 3600, end_s)
        report = await build_report(sources, report_id, cameras, period, schedule.id)
        await store.put(report)
        if await deliver(self._client, self._keys, report, once=True):
            log.info("report %s made (%d engine calls)", report_id, report.engine_calls)


async def _reporting(work: Awaitable[object], progress: Progress) -> None:
    """Awaits ``work`` (reports made with a real model take minutes), reporting the loop
    as going round meanwhile: it is waiting on calls that have their own time limits."""
    task = asyncio.ensure_future(work)
    while not task.done():
        await asyncio.wait({task}, timeout=PROGRESS_S)
        progress("reports")
    await task


async def _camera_ids(client: aioredis.Redis, keys: Keys) -> list[str]:
    return [camera.id for camera in await CameraStore(client, keys).all()]


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        return
