"""Shared start-up pieces of Vigil's processes: Redis connection, cameras, stop signals."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import cast

import redis
import redis.asyncio as aioredis
from pydantic import SecretStr

from agent.pipeline.rules import Rule, Severity
from agent.runtime.config import VigilSettings
from agent.runtime.embedded_redis import EmbeddedRedis
from streams.bus.keys import Keys
from streams.config import CameraConfig, CameraSpec, resolve_camera
from streams.ingest.demo import DEMO_CAMERA_ID, demo_video_path

REDIS_TIMEOUT_S = 5.0
POOL_CONNECTIONS = 100
POOL_WAIT_S = REDIS_TIMEOUT_S
DEMO_RULE = Rule(
    id="cyclist",
    question="Is a person riding a bicycle on the street?",
    cameras=[DEMO_CAMERA_ID],
    severity=Severity.INFO,
)


# Vigil's code is written against redis-py's Redis interface. RedisCluster offers the same
# commands (each routed by its key's slot, pipelines split per node, transactions and
# scripts inside one slot, which streams/bus/keys.py guarantees), so a cluster client is
# handed out under the Redis type; the core flow's tests run against both.


def connect(url: str, cluster: bool = False) -> redis.Redis:
    """A client of the server at ``url``, or of the cluster it is a node of."""
    options = {
        "socket_timeout": REDIS_TIMEOUT_S,
        "socket_connect_timeout": REDIS_TIMEOUT_S,
        "health_check_interval": 30,
    }
    if cluster:
        return cast(redis.Redis, redis.RedisCluster.from_url(url, **options))
    return redis.Redis.from_url(url, **options)


def connect_async(url: str, cluster: bool = False, read_timeout_s: float = 10.0) -> aioredis.Redis:
    """``connect`` for asyncio; ``read_timeout_s`` must outlast the longest blocking read.

    Its pool holds at most ``POOL_CONNECTIONS``; a burst of callers beyond them waits up to
    ``POOL_WAIT_S`` for one to come back (redis-py's plain pool fails at once with "Too
    many connections", which a flood of requests turned into 503s)."""
    options = {"socket_timeout": read_timeout_s, "socket_connect_timeout": REDIS_TIMEOUT_S}
    if cluster:
        return cast(aioredis.Redis, aioredis.RedisCluster.from_url(url, **options))
    pool = aioredis.BlockingConnectionPool.from_url(
        url, max_connections=POOL_CONNECTIONS, timeout=POOL_WAIT_S, **options
    )
    return aioredis.Redis.from_pool(pool)


@contextmanager
def redis_url_for(settings: VigilSettings, start_embedded: bool = True) -> Iterator[str]:
    """The configured Redis URL, or the embedded server's (started here when allowed)."""
    if settings.redis_url is not None:
        yield settings.redis_url.get_secret_value()
        return
    embedded = EmbeddedRedis(settings.data_dir)
    if start_embedded:
        embedded.start()
    try:
        yield embedded.url
    finally:
        embedded.stop()


@contextmanager
def redis_for(settings: VigilSettings, start_embedded: bool = True) -> Iterator[redis.Redis]:
    """A client of the configured Redis, or of the embedded one."""
    with (
        redis_url_for(settings, start_embedded) as url,
        connect(url, settings.redis_cluster) as client,
    ):
        yield client


def keys_for(settings: VigilSettings) -> Keys:
    return Keys(settings.key_prefix)


def configured_rules(settings: VigilSettings) -> list[Rule]:
    """The configured rules, or the demo rule when the demo camera plays."""
    if settings.rules or settings.cameras:
        return settings.rules
    return [DEMO_RULE]


def configured_cameras(settings: VigilSettings) -> list[CameraConfig]:
    """The configured cameras, or the demo camera when none is configured."""
    if settings.cameras:
        return settings.cameras
    url = SecretStr(demo_video_path().as_uri())
    return [CameraConfig(id=DEMO_CAMERA_ID, url=url, name="Demo street (bikes.mp4)")]


def camera_specs(settings: VigilSettings) -> list[CameraSpec]:
    return [
        resolve_camera(camera, settings.ingest)
        for camera in configured_cameras(settings)
        if camera.enabled
    ]


def stop_on_signals() -> threading.Event:
    """An event set by SIGINT or SIGTERM, for a graceful stop."""
    stop = threading.Event()

    def _handler(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _handler)
    signal.signal(signal.SIGTERM, _handler)
    return stop
