"""The parts of one process, each kept running: parts fail alone.

Every long-running part (scheduler, worker, dispatcher, MQTT publisher, archiver, alert
feed, API server, and ingest's follower under ``vigil up``) runs under one ``Supervisor``.
An unexpected exception is logged with its traceback, counted (``restarted``, which
``vigil_part_restarts_total{part=…}`` shows), and the part starts again after a capped
exponential backoff while the others keep running. Only the stop event or a fatal error
(a configuration error) ends the parts: a fatal one stops all of them and is raised.

The supervisor also says which parts are unhealthy, for ``/healthz``, ``/readyz`` and
the heartbeat file: a part that is down (crashed, waiting to restart), or one whose loops
stopped going round (no ``progress`` call for ``stuck_after_s``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from agent.pipeline.progress import Progress, no_progress
from agent.runtime.config import ConfigError
from streams.bus.backoff import Backoff, sleep_unless
from streams.bus.dead_letters import describe

log = logging.getLogger(__name__)

BACKOFF_INITIAL_S = 1.0
BACKOFF_CAP_S = 30.0
STUCK_AFTER_S = 60.0  # as long as the heartbeat file's probe allows

Clock = Callable[[], float]


async def _not_counted(part: str) -> None:
    """``restarted`` for supervisors whose restarts nobody counts."""


@dataclass(frozen=True, slots=True)
class Part:
    name: str
    start: Callable[[], Awaitable[None]]  # a fresh run of the part each call
    goes_round: bool = True  # reports its rounds through the supervisor's progress


@dataclass(slots=True)
class _PartState:
    goes_round: bool
    started_at: float = 0.0
    down_since: float | None = None
    error: str = ""
    restarts: int = 0
    rounds: dict[str, float] = field(default_factory=dict)


class Supervisor:
    def __init__(
        self,
        stop: asyncio.Event,
        restarted: Callable[[str], Awaitable[None]] = _not_counted,
        progress: Progress = no_progress,
        backoff_initial_s: float = BACKOFF_INITIAL_S,
        backoff_cap_s: float = BACKOFF_CAP_S,
        stuck_after_s: float = STUCK_AFTER_S,
        clock: Clock = time.monotonic,
        fatal: tuple[type[BaseException], ...] = (ConfigError,),
    ) -> None:
        self.stop = stop
        self._restarted = restarted
        self._progress = progress  # the process's heartbeat, told of every round too
        self._backoff = (backoff_initial_s, backoff_cap_s)
        self.stuck_after_s = stuck_after_s
        self._clock = clock
        self._fatal = fatal
        self._parts: dict[str, _PartState] = {}
        self._lock = threading.Lock()  # ingest's follower reports from its own thread

    def progress(self, part: str) -> Progress:
        """The ``Progress`` the part's loops report their rounds to."""

        def went_round(loop: str) -> None:
            with self._lock:
                state = self._parts.get(part)
                if state is not None:
                    state.rounds[loop] = self._clock()
            self._progress(loop)

        return went_round

    async def run(self, parts: Sequence[Part]) -> None:
        """Runs the parts until the stop event; raises a fatal error after stopping all."""
        with self._lock:
            self._parts = {part.name: _PartState(part.goes_round) for part in parts}
        tasks = [asyncio.create_task(self._keep(part), name=part.name) for part in parts]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            self.stop.set()  # a fatal error (or a cancel): the others stop too
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    def unhealthy(self) -> dict[str, str]:
        """Part -> why it is not healthy, for the parts that are down or not going round."""
        now = self._clock()
        with self._lock:
            reasons = {name: self._reason(state, now) for name, state in self._parts.items()}
        return {name: reason for name, reason in reasons.items() if reason}

    def restarts(self) -> dict[str, int]:
        with self._lock:
            return {name: state.restarts for name, state in self._parts.items()}

    def _reason(self, state: _PartState, now: float) -> str:
        if state.down_since is not None:
            return (
                f"down for {now - state.down_since:.0f} s after {state.restarts} failure(s), "
                f"restarting: {state.error}"
            )
        if not state.goes_round:
            return ""
        last = min(state.rounds.values(), default=state.started_at)
        if now - last > self.stuck_after_s:
            return f"not going round: no round for {now - last:.0f} s (> {self.stuck_after_s:g} s)"
        return ""

    async def _keep(self, part: Part) -> None:
        backoff = Backoff(*self._backoff)
        while not self.stop.is_set():
            started = self._up(part.name)
            error = await self._run_once(part)
            if error is None:
                return
            if self._clock() - started > self._backoff[1]:
                backoff.reset()  # it ran well for a while: a new failure starts over
            delay = backoff.next_delay_s()
            log.error("part %s failed; restarting in %.1f s", part.name, delay, exc_info=error)
            self._down(part.name, describe(error))
            await self._count(part.name)
            await sleep_unless(self.stop, delay)

    async def _run_once(self, part: Part) -> BaseException | None:
        """None when the part ended on the stop event; its error otherwise."""
        try:
            await part.start()
        except self._fatal:
            log.critical("part %s cannot run: its configuration is wrong", part.name)
            raise
        except Exception as error:
            return error
        if self.stop.is_set():
            return None
        return RuntimeError("it returned without being stopped")

    def _up(self, name: str) -> float:
        now = self._clock()
        with self._lock:
            state = self._parts[name]
            state.started_at, state.down_since, state.rounds = now, None, {}
        return now

    def _down(self, name: str, error: str) -> None:
        with self._lock:
            state = self._parts[name]
            state.down_since, state.error = self._clock(), error
            state.restarts += 1

    async def _count(self, name: str) -> None:
        try:
            await self._restarted(name)
        except Exception as error:  # Redis may be down too: the restart must not wait on it
            log.warning("could not count the restart of %s: %s", name, error)
