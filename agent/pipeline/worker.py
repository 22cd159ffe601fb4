"""A worker of the ``workers`` consumer group: window jobs become verdicts and alerts.

Jobs are acknowledged only once their effects are written. A job that fails stays
pending and is taken over (XAUTOCLAIM) by any worker once idle long enough; a job tried
too often goes to the dead-letter stream with its last error; one the engine refuses as
it stands (over the model's context, say) goes there at once. On stop, a worker takes no
new jobs, gives in-flight ones a grace period, and leaves the rest pending for others.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import cast

import redis.asyncio as aioredis

from agent.engines import Engine, EngineError, EngineRequestError
from agent.pipeline.alert_book import AlertBook
from agent.pipeline.jobs import Held, Job, JobKind, JobQueue, JobTakenOverError
from agent.pipeline.metrics import Counters
from agent.pipeline.progress import Progress, no_progress
from agent.pipeline.rules_store import RuleStore
from agent.pipeline.settings import PipelineSettings
from agent.pipeline.summaries import Summarizer
from agent.pipeline.window_job import WindowRunner
from streams.bus.backoff import sleep_unless
from streams.bus.keys import WORKERS_GROUP, Keys

log = logging.getLogger(__name__)

READ_BLOCK_MS = 1000
GONE_AFTER_CLAIMS = 10  # a consumer silent for 10 x claim_idle_s, holding nothing, has died
REDIS_RETRY_S = 1.0

Entry = tuple[bytes, dict[bytes, bytes]]


class Worker:
    def __init__(
        self,
        client: aioredis.Redis,
        keys: Keys,
        engine: Engine,
        settings: PipelineSettings,
        name: str,
    ) -> None:
        self.name = name
        self._client = client
        self._keys = keys
        self._settings = settings
        self._counters = Counters(client, keys)
        alerts = AlertBook(
            client, keys, jobs_max_len=settings.jobs_max_len, evidence=settings.evidence
        )
        rules = RuleStore(client, keys)
        self._windows = WindowRunner(client, keys, engine, settings, rules, alerts, self._counters)
        self._summaries = Summarizer(client, keys, engine, settings, alerts)
        self._queue = JobQueue(client, keys, settings.jobs_max_len)
        self._tasks: set[asyncio.Task[None]] = set()
        self._next_claim_at = 0.0

    async def run(
        self, stop: asyncio.Event, grace_s: float = 10.0, progress: Progress = no_progress
    ) -> None:
        progress("worker")
        log.info(
            "worker %s started (%d engine calls at most)",
            self.name,
            self._settings.worker_concurrency,
        )
        while not stop.is_set():
            progress("worker")
            try:
                await self._fill()
            except (aioredis.ConnectionError, aioredis.TimeoutError) as error:
                log.warning("worker %s: redis unavailable: %s", self.name, error)
                await sleep_unless(stop, REDIS_RETRY_S)
            except aioredis.ResponseError as error:
                if "NOGROUP" not in str(error):
                    raise
                await self._queue.ensure_group()  # first start, or a Redis that lost its data
        await self._drain(grace_s)
        await self._leave_group()
        log.info("worker %s stopped", self.name)

    async def _leave_group(self) -> None:
        """Keeps the group's consumer list to live workers as they come and go."""
        try:
            if not await self._queue.leave(self.name):
                log.warning("worker %s leaves jobs pending for another worker", self.name)
        except aioredis.RedisError as error:
            log.warning("worker %s: cannot leave the group: %s", self.name, error)

    async def _fill(self) -> None:
        free = self._settings.worker_concurrency - len(self._tasks)
        if free <= 0:
            await asyncio.wait(self._tasks, timeout=1.0, return_when=asyncio.FIRST_COMPLETED)
            return
        entries = await self._claim_idle(free) or await self._read_new(free)
        for entry_id, fields in entries:
            task = asyncio.create_task(self._handle(entry_id, fields))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _read_new(self, count: int) -> list[Entry]:
        reply = await self._client.xreadgroup(
            WORKERS_GROUP, self.name, {self._keys.jobs: ">"}, count=count, block=READ_BLOCK_MS
        )
        streams = cast(list[tuple[bytes, list[Entry]]], reply)
        return streams[0][1] if streams else []

    async def _claim_idle(self, count: int) -> list[Entry]:
        now = time.monotonic()
        if now < self._next_claim_at:
            return []
        self._next_claim_at = now + self._settings.claim_idle_s / 4
        reply = await self._client.xautoclaim(
            self._keys.jobs,
            WORKERS_GROUP,
            self.name,
            min_idle_time=int(self._settings.claim_idle_s * 1000),
            count=count,
        )
        claimed = [entry for entry in cast(list[Entry], reply[1]) if entry and entry[1]]
        if claimed:
            log.info("worker %s took over %d idle job(s)", self.name, len(claimed))
        gone = await self._queue.forget_gone(GONE_AFTER_CLAIMS * self._settings.claim_idle_s)
        if gone:
            log.info("worker %s: gone workers left the group: %s", self.name, ", ".join(gone))
        return claimed

    async def _handle(self, entry_id: bytes, fields: dict[bytes, bytes]) -> None:
        try:
            job = Job.from_fields(fields)
        except (KeyError, ValueError) as error:
            await self._dead_letter(entry_id, fields, f"malformed job: {error!r}")
            return
        holding = asyncio.create_task(self._keep_holding(entry_id))
        try:
            attempt = await self._queue.attempt(job.id)
            if attempt > self._settings.max_deliveries:
                await self._dead_letter(entry_id, fields, await self._last_error(job))
                return
            await self._run(job, attempt == 1, lambda: self._queue.hold(entry_id, self.name))
            await self._queue.ack(entry_id, job.id)
        except JobTakenOverError:
            log.warning("job %s: taken over by another worker meanwhile; left to it", job.id)
            await self._counters.add("jobs_taken_over", job.camera_id)
        except EngineRequestError as error:  # refused as it stands (over the context, say)
            await self._dead_letter(entry_id, fields, f"engine refused the request: {error}")
        except EngineError as error:
            await self._note_failure(job, f"engine: {error}")
        except (aioredis.ConnectionError, aioredis.TimeoutError) as error:
            log.warning("job %s: redis unavailable, left pending: %s", job.id, error)
        except Exception as error:
            log.exception("job %s failed", job.id)
            await self._note_failure(job, f"{type(error).__name__}: {error}")
        finally:
            holding.cancel()

    async def _run(self, job: Job, first_attempt: bool, held: Held) -> None:
        """Raises JobTakenOverError when the job was taken over before its effects."""
        if job.kind is JobKind.SUMMARY:
            await self._summaries.run(job, held)
        else:
            await self._windows.run(job, first_attempt, held)

    async def _keep_holding(self, entry_id: bytes) -> None:
        """Renews the job's idle time while it is worked on, so that a long engine call
        is not taken for a dead worker's; stops once the job is no longer held."""
        while True:
            await asyncio.sleep(self._settings.claim_idle_s / 3)
            try:
                if not await self._queue.hold(entry_id, self.name):
                    return
            except (aioredis.ConnectionError, aioredis.TimeoutError):
                continue

    async def _note_failure(self, job: Job, error: str) -> None:
        log.warning("job %s failed, will be retried: %s", job.id, error)
        try:
            await self._client.hset(self._keys.job_attempts(job.id), "error", error[:1000])
            await self._counters.add("jobs_failed", job.camera_id)
        except (aioredis.ConnectionError, aioredis.TimeoutError):
            pass

    async def _last_error(self, job: Job) -> str:
        key = self._keys.job_attempts(job.id)
        error = cast(bytes | None, await self._client.hget(key, "error"))
        return error.decode() if error else "unknown error"

    async def _dead_letter(self, entry_id: bytes, fields: dict[bytes, bytes], error: str) -> None:
        log.error("job %s moved to dead letters: %s", fields.get(b"id", entry_id), error)
        pipe = self._client.pipeline(transaction=True)
        pipe.xadd(
            self._keys.dead_jobs,
            {**fields, b"error": error.encode()},  # type: ignore[dict-item]
            maxlen=10_000,
            approximate=True,
        )
        pipe.xack(self._keys.jobs, WORKERS_GROUP, entry_id)
        await pipe.execute()
        await self._counters.add("jobs_dead")

    async def _drain(self, grace_s: float) -> None:
        if not self._tasks:
            return
        log.info(
            "worker %s: waiting up to %.0f s for %d job(s)", self.name, grace_s, len(self._tasks)
        )
        _, pending = await asyncio.wait(self._tasks, timeout=grace_s)
        for task in pending:
            task.cancel()  # left pending in the group: another worker takes it over
        await asyncio.gather(*pending, return_exceptions=True)
