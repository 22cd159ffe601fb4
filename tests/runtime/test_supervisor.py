"""The supervisor: a failing part restarts alone, with backoff, counted; a stop ends every
part; a configuration error ends them all and is raised; health names the parts that are
down or not going round."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable

import pytest

from agent.runtime.config import ConfigError
from agent.runtime.supervisor import Part, Supervisor

WAIT_S = 10.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


class Steady:
    """A part that goes round until stopped."""

    def __init__(self, supervisor: Supervisor, name: str) -> None:
        self.rounds = 0
        self._supervisor = supervisor
        self.name = name

    async def run(self) -> None:
        progress = self._supervisor.progress(self.name)
        while not self._supervisor.stop.is_set():
            progress(self.name)
            self.rounds += 1
            await asyncio.sleep(0.001)


async def test_a_failing_part_restarts_with_backoff_and_is_counted_while_others_go_on() -> None:
    stop, counted = asyncio.Event(), []

    async def restarted(part: str) -> None:
        counted.append(part)

    supervisor = Supervisor(stop, restarted, backoff_initial_s=0.02, backoff_cap_s=0.08)
    steady = Steady(supervisor, "steady")
    starts: list[float] = []

    async def failing() -> None:
        starts.append(asyncio.get_running_loop().time())
        raise RuntimeError("boom")

    task = asyncio.create_task(supervisor.run([Part("steady", steady.run), Part("bad", failing)]))
    await until(lambda: len(starts) >= 5, "five starts of the failing part")
    rounds_then = steady.rounds
    await until(lambda: steady.rounds > rounds_then + 10, "the steady part going on")
    assert not task.done()
    assert counted.count("bad") >= 4
    assert "steady" not in counted
    assert supervisor.restarts()["bad"] >= 4
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert all(gap >= 0.01 for gap in gaps)  # waited 50-100 % of a backoff of 0.02 s and up
    assert max(gaps) >= 0.04  # the backoff grew past its first step
    stop.set()
    await asyncio.wait_for(task, WAIT_S)


async def test_a_stop_ends_every_part() -> None:
    stop = asyncio.Event()
    supervisor = Supervisor(stop)
    parts = [Steady(supervisor, name) for name in ("a", "b", "c")]
    task = asyncio.create_task(supervisor.run([Part(p.name, p.run) for p in parts]))
    await until(lambda: all(part.rounds for part in parts), "every part going round")
    stop.set()
    await asyncio.wait_for(task, WAIT_S)
    assert supervisor.restarts() == {"a": 0, "b": 0, "c": 0}


async def test_a_configuration_error_stops_every_part_and_is_raised() -> None:
    stop = asyncio.Event()
    supervisor = Supervisor(stop, backoff_initial_s=0.01)
    steady = Steady(supervisor, "steady")

    async def misconfigured() -> None:
        await until(lambda: steady.rounds > 0, "the steady part started")
        raise ConfigError("mqtt.url: port '99999' is not a TCP port")

    parts = [Part("steady", steady.run), Part("mqtt", misconfigured)]
    with pytest.raises(ConfigError, match="99999"):
        await asyncio.wait_for(supervisor.run(parts), WAIT_S)
    assert stop.is_set()
    assert supervisor.restarts() == {"steady": 0, "mqtt": 0}


async def test_a_part_that_returns_unasked_is_restarted() -> None:
    stop, runs = asyncio.Event(), []

    async def quits() -> None:
        runs.append(1)

    supervisor = Supervisor(stop, backoff_initial_s=0.01, backoff_cap_s=0.02)
    task = asyncio.create_task(supervisor.run([Part("quitter", quits)]))
    await until(lambda: len(runs) >= 3, "restarts of the part that returned")
    stop.set()
    await asyncio.wait_for(task, WAIT_S)


async def test_health_names_a_part_that_is_down_until_it_runs_again() -> None:
    stop, clock = asyncio.Event(), Clock()
    attempts: list[int] = []

    async def flaky() -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise ConnectionError("broker gone")
        await stop.wait()

    supervisor = Supervisor(stop, backoff_initial_s=1.0, backoff_cap_s=1.0, clock=clock)
    task = asyncio.create_task(supervisor.run([Part("mqtt", flaky, goes_round=False)]))
    await until(lambda: "mqtt" in supervisor.unhealthy(), "the part reported down")
    why = supervisor.unhealthy()["mqtt"]
    assert "down" in why
    assert "ConnectionError: broker gone" in why
    await until(lambda: len(attempts) == 2, "the restart")
    assert supervisor.unhealthy() == {}
    stop.set()
    await asyncio.wait_for(task, WAIT_S)


async def test_health_names_a_part_whose_loop_stopped_going_round() -> None:
    stop, clock = asyncio.Event(), Clock()
    supervisor = Supervisor(stop, stuck_after_s=30.0, clock=clock)
    went_round = supervisor.progress("worker")

    async def wedged() -> None:
        went_round("worker")
        await stop.wait()  # an await that never comes back, as far as its loop goes

    async def silent() -> None:
        await stop.wait()  # never reports a round at all

    parts = [Part("worker", wedged), Part("api", silent, goes_round=False)]
    task = asyncio.create_task(supervisor.run(parts))
    await asyncio.sleep(0.01)
    clock.now += 29.0
    assert supervisor.unhealthy() == {}
    clock.now += 2.0
    assert set(supervisor.unhealthy()) == {"worker"}
    assert "not going round: no round for 31 s" in supervisor.unhealthy()["worker"]
    went_round("worker")
    assert supervisor.unhealthy() == {}
    stop.set()
    await asyncio.wait_for(task, WAIT_S)


async def test_a_failing_restart_counter_does_not_stop_the_restarts() -> None:
    stop, runs = asyncio.Event(), []

    async def restarted(part: str) -> None:
        raise ConnectionError("redis down too")

    async def failing() -> None:
        runs.append(1)
        raise RuntimeError("boom")

    supervisor = Supervisor(stop, restarted, backoff_initial_s=0.01, backoff_cap_s=0.02)
    task = asyncio.create_task(supervisor.run([Part("bad", failing)]))
    await until(lambda: len(runs) >= 3, "restarts")
    stop.set()
    await asyncio.wait_for(task, WAIT_S)
