"""The pipeline under faults: a worker killed mid-job, Redis restarted, the engine stalling,
a long engine call kept from a takeover, a paused worker's late answer dropped."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import cast

import pytest
import redis
import redis.asyncio as aioredis

from agent.engines import EngineUnavailableError
from agent.engines.answers import VerdictAnswer
from agent.engines.clips import Clip
from agent.engines.errors import EngineContextError
from agent.engines.prompts import Question
from agent.pipeline.alert_book import AlertBook
from agent.pipeline.alert_state import Phase
from agent.pipeline.jobs import Job, JobKind, JobQueue, JobTakenOverError
from agent.pipeline.metrics import Counters
from agent.pipeline.rules import Rule
from agent.pipeline.rules_store import RuleStore
from agent.pipeline.window_job import WindowRunner
from agent.pipeline.worker import Worker
from agent.runtime.embedded_redis import EmbeddedRedis
from streams.bus.keys import Keys
from streams.ingest.demo import demo_video_path
from tests.pipeline.conftest import FAST, eventually, running_pipeline
from tests.pipeline.scripted_engine import ScriptedEngine
from tests.pipeline.test_switches import store_frames
from tests.streams.helpers import all_frames, camera, running_ingest, wait_for

LANE = Rule(
    id="lane",
    question="Is a person walking in the forklift lane?",
    cooldown_s=0.0,
    close_after_s=2.0,
)
REPO = Path(__file__).resolve().parents[2]


async def event_types(client: aioredis.Redis, stream: str) -> list[str]:
    entries = cast(list[tuple[bytes, dict[bytes, bytes]]], await client.xrange(stream))
    return [fields[b"type"].decode() for _, fields in entries]


async def test_a_job_of_a_killed_worker_is_finished_by_another_exactly_once(
    redis_server: EmbeddedRedis, redis_client: redis.Redis, aclient: aioredis.Redis, keys: Keys
) -> None:
    await RuleStore(aclient, keys).seed([LANE])
    with running_ingest(redis_client, keys, [camera("dock", demo_video_path().as_uri())]):
        wait_for(lambda: len(all_frames(redis_client, keys, "dock")) >= 12, 15, "3 s of frames")
    start_ms = round(all_frames(redis_client, keys, "dock")[0].ts * 1000)
    queue = JobQueue(aclient, keys, 1000)
    await queue.ensure_group()
    job = Job(JobKind.WINDOW, "dock", start_ms, start_ms + 2000, ("lane",), reason="motion")
    assert await queue.enqueue(job)
    doomed = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.pipeline.worker_process",
        redis_server.url,
        keys.prefix,
        "60",
        stdout=asyncio.subprocess.PIPE,
        cwd=REPO,
    )
    try:
        assert doomed.stdout is not None
        assert (await doomed.stdout.readline()).strip() == b"ready"

        async def held() -> bool:
            return (await aclient.xpending(keys.jobs, "workers"))["pending"] == 1

        await eventually(held, 20, "the doomed worker to hold the job")
    finally:
        doomed.kill()
        await doomed.wait()
    assert await event_types(aclient, keys.alerts) == []
    engine = ScriptedEngine(detect={"lane": [(0, 1e12)]})
    stop = asyncio.Event()
    survivor = asyncio.create_task(Worker(aclient, keys, engine, FAST, "survivor").run(stop))

    async def summarized() -> bool:
        return "alert.summarized" in await event_types(aclient, keys.alerts)

    await eventually(summarized, 20, "the job taken over and its alert summarized")
    assert await queue.enqueue(job) is False, "the same window is never queued twice"
    await asyncio.sleep(FAST.claim_idle_s + 1)  # anything left would be claimed again now
    stop.set()
    await survivor
    assert await event_types(aclient, keys.alerts) == ["alert.opened", "alert.summarized"]
    assert (await aclient.xpending(keys.jobs, "workers"))["pending"] == 0
    assert [call[0] for call in engine.calls] == ["verdicts", "reason"]


async def test_redis_restart_loses_no_alert_and_everything_reconnects(
    keys: Keys, tmp_path: Path
) -> None:
    server = EmbeddedRedis(tmp_path / "aof", append_only=True).start()
    sync_client = redis.Redis.from_url(server.url, socket_timeout=2, socket_connect_timeout=2)
    client = aioredis.from_url(server.url, socket_timeout=2, socket_connect_timeout=2)
    await RuleStore(client, keys).seed([LANE])
    detect_from = time.time() + 12  # after the restart below
    engine = ScriptedEngine(detect={"lane": [(detect_from, detect_from + 4)]})
    try:
        with running_ingest(sync_client, keys, [camera("dock", demo_video_path().as_uri())]):
            async with running_pipeline(client, keys, engine, {"dock": 4.0}):
                await eventually(lambda: _scheduled(client, keys), 15, "windows flowing")
                await asyncio.sleep(1.5)  # let the append-only file catch up
                server.kill()
                await asyncio.sleep(2.0)
                server.start()

                async def closed() -> bool:
                    return "alert.closed" in await event_types(client, keys.alerts)

                await eventually(closed, 40, "the alert after the restart")
        types = await event_types(client, keys.alerts)
        # Two positive windows: one alert, opened, updated once, summarized and closed.
        assert sorted(types) == [
            "alert.closed",
            "alert.opened",
            "alert.summarized",
            "alert.updated",
        ]
        assert len(all_frames(sync_client, keys, "dock")) > 40
    finally:
        await client.aclose()
        sync_client.close()
        server.stop()


async def _scheduled(client: aioredis.Redis, keys: Keys) -> bool:
    return (await Counters(client, keys).all()).get("windows_processed", 0) >= 2


async def test_a_stalled_engine_sheds_windows_and_work_resumes_after(
    redis_client: redis.Redis, aclient: aioredis.Redis, keys: Keys
) -> None:
    await RuleStore(aclient, keys).seed([LANE])
    engine = ScriptedEngine(delay_s=7.0)  # slower than the 2 s stride: a backlog builds
    # The scheduler waits for a window's verdicts only briefly here, so windows queue up
    # behind the stalled engine and the workers must shed them.
    settings = FAST.model_copy(
        update={"worker_concurrency": 1, "max_window_age_s": 6.0, "verdict_wait_s": 0.5}
    )
    with running_ingest(redis_client, keys, [camera("dock", demo_video_path().as_uri())]):
        async with running_pipeline(aclient, keys, engine, {"dock": 4.0}, settings=settings):

            async def shed() -> bool:
                counters = await Counters(aclient, keys).all()
                return (
                    counters.get("windows_shed_stale", 0)
                    + counters.get("windows_shed_superseded", 0)
                    >= 2
                )

            await eventually(shed, 40, "windows shed while the engine stalls")
            assert await aclient.xlen(keys.jobs) < 40, "the job stream stays bounded"
            engine.delay_s = 0.0
            before = (await Counters(aclient, keys).all()).get("windows_processed", 0)

            async def resumed() -> bool:
                counters = await Counters(aclient, keys).all()
                return counters.get("windows_processed", 0) >= before + 3

            await eventually(resumed, 30, "windows processed again")


class DyingEngine(ScriptedEngine):
    """Unreachable (every call fails) until revived."""

    alive: bool = False

    async def verdicts(self, clip: Clip, questions: list[Question]) -> VerdictAnswer:
        if not self.alive:
            raise EngineUnavailableError("all engine endpoints are down")
        return await super().verdicts(clip, questions)


async def test_a_dead_engine_fails_jobs_without_crashing_and_work_resumes(
    redis_client: redis.Redis, aclient: aioredis.Redis, keys: Keys
) -> None:
    await RuleStore(aclient, keys).seed([LANE])
    engine = DyingEngine()
    with running_ingest(redis_client, keys, [camera("dock", demo_video_path().as_uri())]):
        async with running_pipeline(aclient, keys, engine, {"dock": 4.0}):

            async def failing() -> bool:
                return (await Counters(aclient, keys).all()).get("jobs_failed", 0) >= 2

            await eventually(failing, 20, "jobs failing on the dead engine")
            engine.alive = True

            async def resumed() -> bool:
                return (await Counters(aclient, keys).all()).get("windows_processed", 0) >= 2

            await eventually(resumed, 30, "windows processed once the engine is back")
    errors = [
        (await aclient.hget(key, "error") or b"").decode()
        async for key in aclient.scan_iter(f"{keys.prefix}job-attempts:*")
    ]
    assert all("all engine endpoints are down" in error for error in errors if error)


class OverContextEngine(ScriptedEngine):
    async def verdicts(self, clip: Clip, questions: list[Question]) -> VerdictAnswer:
        self.calls.append(("verdicts", clip.facts.start_s))
        raise EngineContextError("the clip's 9000 tokens exceed the model's context of 8192")


async def test_a_window_the_engine_refuses_as_it_stands_is_dead_lettered_at_once(
    redis_client: redis.Redis, aclient: aioredis.Redis, keys: Keys
) -> None:
    """A refusal that repeats every time is not retried up to max_deliveries."""
    await RuleStore(aclient, keys).seed([LANE])
    engine = OverContextEngine()
    with running_ingest(redis_client, keys, [camera("dock", demo_video_path().as_uri())]):
        async with running_pipeline(aclient, keys, engine, {"dock": 4.0}):

            async def dead_lettered() -> bool:
                return await aclient.xlen(keys.dead_jobs) >= 2

            await eventually(dead_lettered, 30, "refused windows in the dead letters")
    dead = cast(list[tuple[bytes, dict[bytes, bytes]]], await aclient.xrange(keys.dead_jobs))
    assert all(b"exceed the model's context" in fields[b"error"] for _, fields in dead)
    asked = [start for _mode, start in engine.calls]
    assert len(asked) == len(set(asked))  # no window asked twice
    pending = await aclient.xpending(keys.jobs, "workers")
    assert pending["pending"] <= 1  # at most the one in flight as the pipeline stopped


async def test_alerts_of_a_camera_that_goes_silent_are_closed(
    redis_client: redis.Redis, aclient: aioredis.Redis, keys: Keys
) -> None:
    await RuleStore(aclient, keys).seed([LANE])  # closes after 2 s without a positive
    engine = ScriptedEngine(detect={"lane": [(0, 1e12)]})
    async with running_pipeline(aclient, keys, engine, {"dock": 4.0}):
        with running_ingest(redis_client, keys, [camera("dock", demo_video_path().as_uri())]):

            async def opened() -> bool:
                return "alert.opened" in await event_types(aclient, keys.alerts)

            await eventually(opened, 20, "an alert")
        # The camera stops sending: no more windows, yet the alert must not stay open.

        async def closed() -> bool:
            return "alert.closed" in await event_types(aclient, keys.alerts)

        await eventually(closed, 20, "the silent camera's alert to close")
    entries = await aclient.xrange(keys.alerts)
    closing = [json.loads(f[b"payload"]) for _, f in entries if f[b"type"] == b"alert.closed"]
    assert len(closing) == 1
    assert closing[0]["description"].startswith("no frames from the camera for")
    assert await aclient.scard(keys.open_alerts("dock")) == 0


async def test_dead_workers_leave_the_group_once_their_jobs_are_taken_over(
    aclient: aioredis.Redis, keys: Keys
) -> None:
    settings = FAST.model_copy(update={"claim_idle_s": 0.2})
    queue = JobQueue(aclient, keys, settings.jobs_max_len)
    await queue.ensure_group()
    await queue.enqueue(Job(JobKind.WINDOW, "dock", 1000, 3000, ("lane",)))
    await aclient.xreadgroup("workers", "ghost-holding", {keys.jobs: ">"}, count=1)
    await aclient.xgroup_createconsumer(keys.jobs, "workers", "ghost-empty")

    async def names() -> set[str]:
        infos = await aclient.xinfo_consumers(keys.jobs, "workers")
        return {info["name"].decode() for info in infos}

    assert await names() == {"ghost-holding", "ghost-empty"}
    stop = asyncio.Event()
    worker = Worker(aclient, keys, ScriptedEngine(), settings, "live")
    task = asyncio.create_task(worker.run(stop))
    try:

        async def only_the_live_one() -> bool:
            return await names() == {"live"}

        await eventually(only_the_live_one, 15, "the dead consumers to be dropped")
        assert (await aclient.xpending(keys.jobs, "workers"))["pending"] == 0
    finally:
        stop.set()
        await task
    assert await names() == set()


async def test_a_held_job_is_the_holders_until_taken_over_or_done(
    aclient: aioredis.Redis, keys: Keys
) -> None:
    queue = JobQueue(aclient, keys, 1000)
    await queue.ensure_group()
    job = Job(JobKind.WINDOW, "dock", 1000, 3000, ("lane",))
    await queue.enqueue(job)
    reply = await aclient.xreadgroup("workers", "first", {keys.jobs: ">"}, count=1)
    entry_id = reply[0][1][0][0]
    assert await queue.hold(entry_id, "first")
    assert not await queue.hold(entry_id, "second")
    await aclient.xautoclaim(keys.jobs, "workers", "second", min_idle_time=0, count=1)
    assert not await queue.hold(entry_id, "first")
    assert await queue.hold(entry_id, "second")
    await queue.ack(entry_id, job.id)
    assert not await queue.hold(entry_id, "second")


async def test_a_long_engine_call_is_not_taken_over_by_another_worker(
    redis_client: redis.Redis, aclient: aioredis.Redis, keys: Keys
) -> None:
    """The engine answers after four times claim_idle_s; the other worker, trying to take
    over idle jobs all the while, never gets it: the window is asked about once."""
    settings = FAST.model_copy(update={"claim_idle_s": 0.5})
    await RuleStore(aclient, keys).seed([LANE])
    start_s = time.time() - 6
    store_frames(redis_client, keys, "dock", start_s)
    queue = JobQueue(aclient, keys, 1000)
    await queue.ensure_group()
    start_ms = round(start_s * 1000) + 1000
    await queue.enqueue(Job(JobKind.WINDOW, "dock", start_ms, start_ms + 2000, ("lane",)))
    engine = ScriptedEngine(delay_s=4 * settings.claim_idle_s)
    stop = asyncio.Event()
    workers = [Worker(aclient, keys, engine, settings, name) for name in ("one", "two")]
    tasks = [asyncio.create_task(worker.run(stop)) for worker in workers]
    try:

        async def done() -> bool:
            return (await Counters(aclient, keys).all()).get("windows_processed", 0) == 1

        await eventually(done, 15, "the window processed")
        await asyncio.sleep(2 * settings.claim_idle_s)  # a second run would start by now
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    assert [mode for mode, _ in engine.calls] == ["verdicts"]
    assert "jobs_taken_over" not in await Counters(aclient, keys).all()
    assert (await aclient.xpending(keys.jobs, "workers"))["pending"] == 0


async def test_a_window_taken_over_while_the_model_answered_writes_nothing(
    redis_client: redis.Redis, aclient: aioredis.Redis, keys: Keys
) -> None:
    """A worker paused past claim_idle_s wakes to find its job taken over: the answer it
    got is dropped, so the window's alert and archive record are written once, by the
    worker that took it over."""
    rules, book = RuleStore(aclient, keys), AlertBook(aclient, keys)
    counters = Counters(aclient, keys)
    await rules.seed([LANE])
    start_s = time.time() - 6
    store_frames(redis_client, keys, "dock", start_s)
    engine = ScriptedEngine(detect={"lane": [(0.0, 2e9)]})
    runner = WindowRunner(aclient, keys, engine, FAST, rules, book, counters)
    start_ms = round(start_s * 1000) + 1000
    job = Job(JobKind.WINDOW, "dock", start_ms, start_ms + 2000, ("lane",))

    async def taken_over() -> bool:
        return False

    with pytest.raises(JobTakenOverError):
        await runner.run(job, first_attempt=True, held=taken_over)
    assert engine.calls
    assert (await book.track("dock", "lane")).phase is Phase.IDLE
    assert await aclient.xlen(keys.archive) == 0
    assert "windows_processed" not in await counters.all()
