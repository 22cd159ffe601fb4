"""The reasoning side as one asyncio program: scheduler, worker, alert feed, API, dispatcher.

``vigil up`` runs it beside ingest in one process; ``vigil scheduler``, ``vigil worker``,
``vigil api``, ``vigil dispatcher``, ``vigil mqtt`` and ``vigil archiver`` run one part
each, for scale-out.
Every part stops on the same event: the scheduler at once, the worker after its in-flight
jobs (within a grace period). Every part runs under the process's supervisor
(``supervisor.py``): a part that fails is logged, counted and restarted alone; the API's
probes and the heartbeat file report the parts that are down or not going round.

The API and the archive (FastAPI, LanceDB, Arrow: most of what this module would load)
are imported by the parts that run them, on their first start, so that a scheduler, worker
or dispatcher starts in a third of the CPU time: on a busy machine a role is not alive
before it has loaded what it imports.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

import redis.asyncio as aioredis

from agent.engines import Engine
from agent.engines.factory import start_engine
from agent.engines.host import engine_for_host
from agent.mqtt.publisher import MqttPublisher
from agent.pipeline.cameras_store import CameraStore
from agent.pipeline.metrics import Counters
from agent.pipeline.progress import Progress
from agent.pipeline.rules_store import RuleStore
from agent.pipeline.scheduler import Scheduler
from agent.pipeline.worker import Worker
from agent.reports.schedules import ScheduleStore
from agent.runtime.alert_feed import follow_alerts
from agent.runtime.config import VigilSettings
from agent.runtime.ingest import ShardedIngest, follow_store
from agent.runtime.liveness import Heartbeat
from agent.runtime.startup import configured_cameras, configured_rules, connect_async, keys_for
from agent.runtime.supervisor import Part, Supervisor
from agent.webhooks.dispatcher import Dispatcher
from streams.bus.keys import Keys

if TYPE_CHECKING:
    from agent.api.state import ApiState

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Roles:
    scheduler: bool = True
    worker: bool = True
    alert_feed: bool = False
    api: bool = False
    dispatcher: bool = False
    mqtt: bool = False  # runs only where the ``mqtt`` section is configured
    archiver: bool = False


def run_agents(
    settings: VigilSettings,
    redis_url: str,
    stop: threading.Event,
    roles: Roles,
    emit: Callable[[str], None] = print,
    engine: Engine | None = None,
    heartbeat: Heartbeat | None = None,
    ingest: ShardedIngest | None = None,
) -> None:
    """Runs the roles, and ``ingest``'s follower when given, until ``stop``; a worker uses
    ``engine`` when given, else starts one. The parts' loops report their rounds to the
    ``heartbeat``, which also reports the parts that are down."""
    try:
        asyncio.run(_agents(settings, redis_url, stop, roles, emit, engine, heartbeat, ingest))
    finally:
        stop.set()  # ends the relay thread whatever ended the loop


async def _agents(
    settings: VigilSettings,
    redis_url: str,
    stop: threading.Event,
    roles: Roles,
    emit: Callable[[str], None],
    given_engine: Engine | None,
    heartbeat: Heartbeat | None,
    ingest: ShardedIngest | None,
) -> None:
    client = connect_async(redis_url, settings.redis_cluster)
    keys = keys_for(settings)
    done = asyncio.Event()
    relay = asyncio.create_task(_relay(stop, done))
    engine: Engine | None = None
    try:
        await RuleStore(client, keys).seed(configured_rules(settings))
        await CameraStore(client, keys).seed(configured_cameras(settings))
        await ScheduleStore(client, keys).seed(settings.reports)
        engine = _engine_for(roles, settings, given_engine)
        supervisor = _supervisor(client, keys, done, heartbeat)
        parts = _Parts(settings, redis_url, client, keys, engine, supervisor, emit).wanted(roles)
        if ingest is not None:
            follower = partial(_follower, ingest, stop, done, supervisor.progress("ingest"))
            parts.insert(0, Part("ingest", follower))
        await supervisor.run(parts)
    finally:
        stop.set()
        await relay
        if engine is not None:
            await engine.close()
        await client.aclose()


def _supervisor(
    client: aioredis.Redis, keys: Keys, done: asyncio.Event, heartbeat: Heartbeat | None
) -> Supervisor:
    counters = Counters(client, keys)

    async def restarted(part: str) -> None:
        await counters.add(f"part_restarts:{part}")

    if heartbeat is None:
        return Supervisor(done, restarted)
    supervisor = Supervisor(done, restarted, heartbeat.went_round)
    heartbeat.watch(supervisor.unhealthy)
    return supervisor


class _Parts:
    """The roles of this process as parts its supervisor starts (again): each start makes
    a fresh object, so a restart never inherits a crashed run's state."""

    def __init__(
        self,
        settings: VigilSettings,
        redis_url: str,
        client: aioredis.Redis,
        keys: Keys,
        engine: Engine | None,
        supervisor: Supervisor,
        emit: Callable[[str], None],
    ) -> None:
        self._settings = settings
        self._redis_url = redis_url
        self._client = client
        self._keys = keys
        self._engine = engine
        self._supervisor = supervisor
        self._done = supervisor.stop
        self._emit = emit
        self._name = f"{socket.gethostname()}-{os.getpid()}"  # unique among a group's consumers

    def wanted(self, roles: Roles) -> list[Part]:
        chosen = [
            (roles.scheduler, Part("scheduler", self.scheduler)),
            (roles.worker and self._engine is not None, Part("worker", self.worker)),
            (roles.alert_feed, Part("alert-feed", self.alert_feed, goes_round=False)),
            (roles.api, Part("api", self.api, goes_round=False)),
            (roles.dispatcher, Part("dispatcher", self.dispatcher)),
            (roles.mqtt and self._settings.mqtt is not None, Part("mqtt", self.mqtt)),
            (roles.archiver, Part("archiver", self.archiver)),
            # Where the API runs: it has the archive and an engine (or its servers).
            (roles.api, Part("reports", self.reports)),
        ]
        return [part for wanted, part in chosen if wanted]

    async def scheduler(self) -> None:
        settings, cameras = self._settings, CameraStore(self._client, self._keys)

        async def camera_fps() -> dict[str, float]:
            return await cameras.fps_by_camera(settings.ingest)

        scheduler = Scheduler(self._client, self._keys, settings.pipeline, camera_fps)
        await scheduler.run(self._done, self._supervisor.progress("scheduler"))

    async def worker(self) -> None:
        assert self._engine is not None  # wanted only with one
        pipeline = self._settings.pipeline
        worker = Worker(self._client, self._keys, self._engine, pipeline, self._name)
        await worker.run(self._done, progress=self._supervisor.progress("worker"))

    async def alert_feed(self) -> None:
        await follow_alerts(self._client, self._keys, self._done, self._emit)

    async def api(self) -> None:
        from agent.api.server import serve_api  # here: see the docstring

        # Connections of its own: a flood of requests waits for the API's connections,
        # never for those of the scheduler, worker and archiver beside it.
        client = connect_async(self._redis_url, self._settings.redis_cluster)
        try:
            state = api_state(self._settings, client, self._keys, self._engine, self._supervisor)
            await serve_api(state, self._done)
        finally:
            await client.aclose()

    async def dispatcher(self) -> None:
        settings = self._settings
        base_url = settings.api.base_url()
        dispatcher = Dispatcher(self._client, self._keys, settings.webhooks, base_url)
        await dispatcher.run(self._done, self._supervisor.progress("dispatcher"))

    async def mqtt(self) -> None:
        settings = self._settings
        assert settings.mqtt is not None  # wanted only with it
        publisher = MqttPublisher(
            self._client, self._keys, settings.mqtt, self._name, settings.api.base_url()
        )
        await publisher.run(self._done, self._supervisor.progress("mqtt"))

    async def reports(self) -> None:
        from agent.api.archive_access import ArchiveAccess  # see the docstring
        from agent.reports.builder import ReportSources
        from agent.reports.runner import ReportRunner
        from agent.reports.store import ReportStore

        archive = ArchiveAccess(self._settings.archive, self._settings.data_dir)

        async def opener() -> tuple[ReportSources, ReportStore]:
            windows, alerts = await archive.windows(), await archive.alerts()
            sources = ReportSources(self._client, self._keys, windows, alerts, self._engine)
            return sources, await archive.reports()

        runner = ReportRunner(self._client, self._keys, opener, self._name)
        await runner.run(self._done, self._supervisor.progress("reports"))

    async def archiver(self) -> None:
        progress = self._supervisor.progress("archiver")
        await _archive(self._settings, self._client, self._keys, self._name, self._done, progress)


async def _follower(
    ingest: ShardedIngest, stop: threading.Event, done: asyncio.Event, progress: Progress
) -> None:
    """Ingest's follower in its thread; ``done`` (the process ending) stops it too."""
    follower = asyncio.ensure_future(asyncio.to_thread(follow_store, ingest, stop, progress))
    ending = asyncio.ensure_future(done.wait())
    await asyncio.wait({follower, ending}, return_when=asyncio.FIRST_COMPLETED)
    ending.cancel()
    if not follower.done():
        stop.set()
    await follower


async def _archive(
    settings: VigilSettings,
    client: aioredis.Redis,
    keys: Keys,
    name: str,
    done: asyncio.Event,
    progress: Progress,
) -> None:
    from agent.archive.archiver import Archiver, open_alert_mover, open_parts  # see the docstring

    archive_parts = await open_parts(settings.archive, settings.data_dir)
    alerts = await open_alert_mover(
        client, keys, settings.archive, settings.alerts, archive_parts, settings.data_dir,
        settings.ingest.fps, settings.eval,
    )  # fmt: skip
    archiver = Archiver(client, keys, settings.archive, archive_parts, name, alerts)
    await archiver.run(done, progress)


def api_state(
    settings: VigilSettings,
    client: aioredis.Redis,
    keys: Keys,
    engine: Engine | None = None,
    supervisor: Supervisor | None = None,
) -> ApiState:
    """The API's state from the whole configuration: the parts of it the API reads."""
    from agent.api.archive_access import ArchiveAccess  # see the docstring
    from agent.api.state import ApiState

    archive = ArchiveAccess(settings.archive, settings.data_dir)
    return ApiState(
        client, keys, settings.api, settings.webhooks, settings.ingest, engine, archive,
        parts=supervisor, eval=settings.eval,
    )  # fmt: skip


def _engine_for(roles: Roles, settings: VigilSettings, given: Engine | None) -> Engine | None:
    """The engine of this process: the worker's, which the API shares; for an API alone,
    a client of the configured vLLM servers (no model here). An in-process engine loads
    the model, so an API alone never starts one."""
    if roles.worker:
        return given or _engine(settings)
    if not roles.api:
        return None
    if given is not None:
        return given
    if settings.engine.kind == "openai":
        log.info("the API asks the engine servers at %s", ", ".join(settings.engine.base_urls))
        return start_engine(settings.engine)
    return None


def _engine(settings: VigilSettings) -> Engine:
    engine_settings = engine_for_host(settings.engine, settings.data_dir)
    log.info("starting the %s engine with %s", engine_settings.kind, engine_settings.model)
    return start_engine(engine_settings)


async def _relay(stop: threading.Event, done: asyncio.Event) -> None:
    """Carries a stop from signal handlers (a thread event) into the event loop."""
    await asyncio.to_thread(stop.wait)
    done.set()
