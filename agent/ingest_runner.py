"""Ingest inside Vigil's processes: cameras from the Redis camera store, edits applied live.

The configured cameras seed the store (stored edits win); the running ingest then
follows the store, so a camera added, changed or removed through the API is picked up
within seconds, without a restart.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import redis

from agent.config import VigilSettings
from agent.runtime import configured_cameras, keys_for
from streams.camera_registry import seed_cameras, stored_specs
from streams.ingest import IngestService

log = logging.getLogger(__name__)

CAMERA_SYNC_S = 5.0
HEALTH_LOG_S = 30.0


@contextmanager
def ingest_from_store(settings: VigilSettings, client: redis.Redis) -> Iterator[IngestService]:
    keys = keys_for(settings)
    seed_cameras(client, keys, configured_cameras(settings))
    specs = stored_specs(client, keys, settings.ingest)
    service = IngestService(specs, client, keys, settings.ingest).start()
    log.info("ingesting %s", ", ".join(service.camera_ids) or "no camera yet")
    try:
        yield service
    finally:
        service.stop()


def follow_store(
    service: IngestService, client: redis.Redis, settings: VigilSettings, stop: threading.Event
) -> None:
    """Until stopped: applies camera edits every few seconds, logs health lines now and then."""
    keys = keys_for(settings)
    next_health_log = time.monotonic() + HEALTH_LOG_S
    while not stop.wait(CAMERA_SYNC_S):
        try:
            service.sync(stored_specs(client, keys, settings.ingest))
        except (redis.ConnectionError, redis.TimeoutError) as error:
            log.warning("camera store unavailable, keeping the current cameras: %s", error)
        if time.monotonic() >= next_health_log:
            next_health_log += HEALTH_LOG_S
            for line in service.health_lines():
                log.info("%s", line)


def follow_store_in_background(
    service: IngestService, client: redis.Redis, settings: VigilSettings, stop: threading.Event
) -> threading.Thread:
    thread = threading.Thread(
        target=follow_store, args=(service, client, settings, stop), name="vigil-cameras",
        daemon=True,
    )  # fmt: skip
    thread.start()
    return thread
