"""The reasoning side as one asyncio program: scheduler, worker, alert feed, API, dispatcher.

``vigil up`` runs it beside ingest in one process; ``vigil scheduler``, ``vigil worker``,
``vigil api``, ``vigil dispatcher``, ``vigil mqtt`` and ``vigil archiver`` run one part
each, for scale-out.
Every part stops on the same event: the scheduler at once, the worker after its in-flight
jobs (within a grace period).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from agent.api.archive_access import ArchiveAccess
from agent.api.server import serve_api
from agent.api.state import ApiState
from agent.archive.archiver import Archiver, open_alert_mover, open_parts
from agent.engines import Engine
from agent.engines.factory import start_engine
from agent.engines.host import engine_for_host
from agent.mqtt.publisher import MqttPublisher
from agent.pipeline.cameras_store import CameraStore
from agent.pipeline.progress import Progress, no_progress
from agent.pipeline.rules_store import RuleStore
from agent.pipeline.scheduler import Scheduler
from agent.pipeline.worker import Worker
from agent.runtime.alert_feed import follow_alerts
from agent.runtime.config import VigilSettings
from agent.runtime.startup import configured_cameras, configured_rules, connect_async, keys_for
from agent.webhooks.dispatcher import Dispatcher
from streams.bus.keys import Keys

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
    progress: Progress = no_progress,
) -> None:
    """Runs the roles until ``stop``; a worker uses ``engine`` when given, else starts one.
    The scheduler's, worker's and dispatcher's loops report their rounds to ``progress``."""
    try:
        asyncio.run(_agents(settings, redis_url, stop, roles, emit, engine, progress))
    finally:
        stop.set()  # ends the relay thread whatever ended the loop


async def _agents(
    settings: VigilSettings,
    redis_url: str,
    stop: threading.Event,
    roles: Roles,
    emit: Callable[[str], None],
    given_engine: Engine | None,
    progress: Progress,
) -> None:
    client = connect_async(redis_url, settings.redis_cluster)
    keys = keys_for(settings)
    await RuleStore(client, keys).seed(configured_rules(settings))
    await CameraStore(client, keys).seed(configured_cameras(settings))
    engine = _engine_for(roles, settings, given_engine)
    done = asyncio.Event()
    parts: list[Coroutine[Any, Any, None]] = [_relay(stop, done)]
    if roles.scheduler:
        cameras = CameraStore(client, keys)

        async def camera_fps() -> dict[str, float]:
            return await cameras.fps_by_camera(settings.ingest)

        parts.append(Scheduler(client, keys, settings.pipeline, camera_fps).run(done, progress))
    if engine is not None and roles.worker:
        # Unique among the consumers of the group: several worker processes may share a host.
        name = f"{socket.gethostname()}-{os.getpid()}"
        worker = Worker(client, keys, engine, settings.pipeline, name)
        parts.append(worker.run(done, progress=progress))
    if roles.alert_feed:
        parts.append(follow_alerts(client, keys, done, emit))
    if roles.api:
        parts.append(serve_api(api_state(settings, client, keys, engine), done))
    if roles.dispatcher:
        base_url = settings.api.base_url()
        parts.append(Dispatcher(client, keys, settings.webhooks, base_url).run(done, progress))
    if roles.mqtt and settings.mqtt is not None:
        name = f"{socket.gethostname()}-{os.getpid()}"
        publisher = MqttPublisher(client, keys, settings.mqtt, name, settings.api.base_url())
        parts.append(publisher.run(done, progress))
    if roles.archiver:
        name = f"{socket.gethostname()}-{os.getpid()}"
        parts.append(_archive(settings, client, keys, name, done, progress))
    try:
        await asyncio.gather(*parts)
    finally:
        if engine is not None:
            await engine.close()
        await client.aclose()


async def _archive(
    settings: VigilSettings,
    client: aioredis.Redis,
    keys: Keys,
    name: str,
    done: asyncio.Event,
    progress: Progress,
) -> None:
    archive_parts = await open_parts(settings.archive, settings.data_dir)
    alerts = await open_alert_mover(
        client, keys, settings.archive, settings.alerts, archive_parts, settings.data_dir,
        settings.ingest.fps,
    )  # fmt: skip
    archiver = Archiver(client, keys, settings.archive, archive_parts, name, alerts)
    await archiver.run(done, progress)


def api_state(
    settings: VigilSettings, client: aioredis.Redis, keys: Keys, engine: Engine | None = None
) -> ApiState:
    """The API's state from the whole configuration: the parts of it the API reads."""
    archive = ArchiveAccess(settings.archive, settings.data_dir)
    return ApiState(client, keys, settings.api, settings.webhooks, settings.ingest, engine, archive)


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
