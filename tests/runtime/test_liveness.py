"""The heartbeat of the roles without HTTP: fresh while every loop goes round, stale when
one stops (stuck on an await) or the whole event loop is blocked, read by the probe
command compose and Kubernetes run."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import redis.asyncio as aioredis

from agent.pipeline.scheduler import Scheduler
from agent.pipeline.settings import PipelineSettings
from agent.runtime.liveness import Heartbeat, heartbeat_file, heartbeat_written, main, probe
from streams.bus.keys import Keys

SETTINGS = PipelineSettings(scheduler_poll_s=0.02)
WRITE_PERIOD_S = 0.02


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_the_probe_follows_the_loop_that_went_round_least_recently(tmp_path: Path) -> None:
    clock = FakeClock()
    heartbeat = Heartbeat(heartbeat_file(tmp_path, "dispatcher"), clock)
    heartbeat.went_round("outbox")
    heartbeat.went_round("subscriptions")
    heartbeat.write()
    assert probe(heartbeat.path, 60, clock.now + 59)[0]
    for _ in range(10):  # the outbox loop keeps going round; the other is stuck
        clock.now += 10
        heartbeat.went_round("outbox")
        heartbeat.write()
    alive, message = probe(heartbeat.path, 60, clock.now)
    assert not alive
    assert "100.0 s ago" in message


def test_nothing_to_read_is_not_alive(tmp_path: Path) -> None:
    path = heartbeat_file(tmp_path, "worker")
    Heartbeat(path).write()  # no loop has gone round yet: nothing is written
    assert probe(path, 60, time.time()) == (False, f"not alive: no heartbeat in {path}")
    path.parent.mkdir(parents=True)
    path.write_text("garbage\n")
    assert not probe(path, 60, time.time())[0]


def test_the_probe_command_exits_by_the_heartbeat(tmp_path: Path) -> None:
    heartbeat = Heartbeat(heartbeat_file(tmp_path, "ingest"))
    heartbeat.went_round("ingest")
    heartbeat.write()
    command = [sys.executable, "-m", "agent.runtime.liveness", str(heartbeat.path)]
    fresh = subprocess.run([*command, "60"], capture_output=True, text=True, timeout=30)
    assert (fresh.returncode, fresh.stdout.split(":")[0]) == (0, "alive")
    assert subprocess.run([*command, "-1"], capture_output=True, timeout=30).returncode == 1
    assert main([str(heartbeat.path)]) == 2  # no maximum age: usage


def test_the_written_file_keeps_up_with_the_rounds(tmp_path: Path) -> None:
    path = heartbeat_file(tmp_path, "scheduler")
    with heartbeat_written(path, WRITE_PERIOD_S) as heartbeat:
        for _ in range(5):
            heartbeat.went_round("scheduler")
            time.sleep(0.1)
            assert probe(path, 0.1 + 3 * WRITE_PERIOD_S, time.time())[0]
    assert not list(path.parent.glob(".*")), "no partial file is left behind"


@contextlib.asynccontextmanager
async def scheduler_beating(
    client: aioredis.Redis,
    keys: Keys,
    path: Path,
    cameras: Callable[[], Awaitable[dict[str, float]]],
) -> AsyncIterator[tuple[asyncio.Task[None], asyncio.Event]]:
    """A scheduler reporting its rounds to a heartbeat written to ``path``; its task and
    its stop event."""
    stop = asyncio.Event()
    with heartbeat_written(path, WRITE_PERIOD_S) as heartbeat:
        scheduler = Scheduler(client, keys, SETTINGS, cameras)
        yield asyncio.create_task(scheduler.run(stop, heartbeat.went_round)), stop


async def test_a_scheduler_stuck_on_an_await_is_reported(
    aclient: aioredis.Redis, keys: Keys, tmp_path: Path
) -> None:
    """The event loop is free (the heartbeat thread writes on), but the scheduler's loop
    waits on a camera source that never answers: its round stops advancing."""
    answered = asyncio.Event()

    async def cameras_then_silence() -> dict[str, float]:
        if answered.is_set():
            await asyncio.Event().wait()
        answered.set()
        return {}

    path = heartbeat_file(tmp_path, "scheduler")
    async with scheduler_beating(aclient, keys, path, cameras_then_silence) as (task, _):
        await _until(lambda: probe(path, 0.5, time.time())[0], "the scheduler to be alive")
        await asyncio.sleep(1.0)
        alive, message = probe(path, 0.5, time.time())
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert not alive, message


async def test_a_blocked_event_loop_is_reported(
    aclient: aioredis.Redis, keys: Keys, tmp_path: Path
) -> None:
    async def no_cameras() -> dict[str, float]:
        return {}

    path = heartbeat_file(tmp_path, "scheduler")
    async with scheduler_beating(aclient, keys, path, no_cameras) as (task, stop):
        await asyncio.sleep(0.5)
        alive_while_running = probe(path, 0.5, time.time())[0]
        time.sleep(1.0)  # noqa: ASYNC251 -- the wedge under test: nothing on the loop goes round
        alive_while_blocked, message = probe(path, 0.5, time.time())
        stop.set()
        await task
    assert alive_while_running
    assert not alive_while_blocked, message


async def _until(condition: Callable[[], bool], what: str, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def test_the_probe_names_a_part_the_supervisor_reports_down(tmp_path: Path) -> None:
    clock = FakeClock()
    heartbeat = Heartbeat(heartbeat_file(tmp_path, "up"), clock)
    heartbeat.went_round("scheduler")
    down = {"mqtt": "down for 3 s after 2 failure(s), restarting: RuntimeError: boom\nline"}
    heartbeat.watch(lambda: down)
    heartbeat.write()
    alive, message = probe(heartbeat.path, 60, clock.now)
    assert not alive
    assert message == "not alive: mqtt: down for 3 s after 2 failure(s), restarting: " + (
        "RuntimeError: boom line"
    )
    down.clear()
    heartbeat.write()
    assert probe(heartbeat.path, 60, clock.now) == (True, "alive: its loops went round 0.0 s ago")
