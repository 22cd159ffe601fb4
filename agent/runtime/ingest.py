"""Ingest inside Vigil's processes: its share of the stored cameras, edits applied live.

The configured cameras seed the Redis camera store (stored edits win). The running
ingest is one shard among any number (``streams/ingest/shards.py``): every step it reads the
store, renews its leases and reads exactly the cameras whose lease it holds, so a camera
added, changed or removed through the API is picked up within seconds, and shards that
come and go share the cameras between them without a restart.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import redis

from agent.pipeline.progress import Progress, no_progress
from agent.runtime.config import VigilSettings
from agent.runtime.startup import configured_cameras, keys_for
from streams.config import CameraSpec
from streams.ingest.registry import seed_cameras, stored_specs
from streams.ingest.service import IngestService
from streams.ingest.shards import IngestShard, ShardStep

log = logging.getLogger(__name__)

HEALTH_LOG_S = 30.0
INGEST_LOOP = "ingest"
REDIS_RETRY_S = 1.0


class ShardedIngest:
    """One ingest shard: the cameras it holds leases for, read by its ``IngestService``."""

    def __init__(self, settings: VigilSettings, client: redis.Redis) -> None:
        shard_id = settings.ingest.shard_id or f"{socket.gethostname()}-{os.getpid()}"
        self._settings = settings
        self._client = client
        self._keys = keys_for(settings)
        self.shard = IngestShard(client, self._keys, shard_id, settings.ingest.lease_s)
        self.service = IngestService([], client, self._keys, settings.ingest, shard_id=shard_id)
        self._specs: dict[str, CameraSpec] = {}
        self._reading: frozenset[str] = frozenset()
        self.wake_in_s = self.shard.period_s

    def start(self) -> ShardedIngest:
        self.service.start()
        self.step()
        return self

    def step(self) -> None:
        """Applies camera edits and lease changes; ``wake_in_s`` says when to step next."""
        try:
            specs = stored_specs(self._client, self._keys, self._settings.ingest)
            self._specs = {spec.id: spec for spec in specs}
            plan = self.shard.step(self._specs)
        except (redis.ConnectionError, redis.TimeoutError) as error:
            log.warning("Redis unavailable, reading the cameras still leased here: %s", error)
            self._read(self.shard.still_valid())
            self.wake_in_s = REDIS_RETRY_S
            return
        self._read(plan.readable)
        self.shard.release(plan.give_back)
        self._log_share(plan)
        self.wake_in_s = plan.wake_in_s

    def stop(self) -> None:
        self.service.stop()
        self.shard.leave()

    def _read(self, camera_ids: frozenset[str]) -> None:
        known = sorted(camera_ids & self._specs.keys())
        self.service.sync([self._specs[camera_id] for camera_id in known])

    def _log_share(self, plan: ShardStep) -> None:
        if plan.readable == self._reading:
            return
        self._reading = plan.readable
        log.info(
            "shard %s reads %d of %d cameras (%d live shards): %s",
            self.shard.id, len(plan.readable), len(self._specs), len(plan.live_shards),
            ", ".join(sorted(plan.readable)) or "none",
        )  # fmt: skip


@contextmanager
def ingest_from_store(settings: VigilSettings, client: redis.Redis) -> Iterator[ShardedIngest]:
    seed_cameras(client, keys_for(settings), configured_cameras(settings))
    ingest = ShardedIngest(settings, client).start()
    try:
        yield ingest
    finally:
        ingest.stop()


def follow_store(
    ingest: ShardedIngest, stop: threading.Event, progress: Progress = no_progress
) -> None:
    """Until stopped: steps the shard when due, logs health lines now and then."""
    next_health_log = time.monotonic() + HEALTH_LOG_S
    progress(INGEST_LOOP)
    while not stop.wait(ingest.wake_in_s):
        ingest.step()
        progress(INGEST_LOOP)
        if time.monotonic() >= next_health_log:
            next_health_log += HEALTH_LOG_S
            for line in ingest.service.health_lines():
                log.info("%s", line)


def follow_store_in_background(
    ingest: ShardedIngest, stop: threading.Event, progress: Progress = no_progress
) -> threading.Thread:
    thread = threading.Thread(
        target=follow_store, args=(ingest, stop, progress), name="vigil-cameras", daemon=True
    )
    thread.start()
    return thread
