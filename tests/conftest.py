"""Real servers for the whole suite: Redis and RTSP, started once per session, and the
tiny model the vLLM engines load."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis

from agent.runtime.embedded_redis import EmbeddedRedis
from streams.bus.keys import Keys
from tests.servers.redis_cluster import LocalRedisCluster, cluster_ports
from tests.servers.rtsp import RtspServer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"), append_only=False).start()
    yield server
    server.stop()


@pytest.fixture
def redis_client(redis_server: EmbeddedRedis) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url)
    yield client
    client.close()


@pytest.fixture
async def aclient(redis_server: EmbeddedRedis) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(redis_server.url)
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRedisCluster]:
    """A Redis Cluster of three masters, for the tests that run the core flow on one."""
    cluster = LocalRedisCluster(tmp_path_factory.mktemp("cluster"), cluster_ports()).start()
    yield cluster
    cluster.stop()


@dataclass(frozen=True)
class RedisTarget:
    """Where a test's Redis clients connect: the suite's server or its cluster."""

    url: str
    cluster: bool


@pytest.fixture(params=["server", "cluster"])
def redis_target(request: pytest.FixtureRequest) -> RedisTarget:
    """For the tests of the core flow, which must pass on a single Redis and on a cluster."""
    if request.param == "cluster":
        return RedisTarget(request.getfixturevalue("redis_cluster").url, cluster=True)
    return RedisTarget(request.getfixturevalue("redis_server").url, cluster=False)


@pytest.fixture
def keys() -> Keys:
    """A key prefix of the test's own, so tests share one server without seeing each other."""
    return Keys(prefix=f"test-{uuid.uuid4().hex[:8]}:")


@pytest.fixture(scope="session")
def rtsp_server() -> Iterator[RtspServer]:
    server = RtspServer(
        free_port(), mounts=("/live", "/cam1", "/cam2", "/cam3", "/bframes")
    ).start()
    yield server
    server.kill()


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny random-weight Qwen2.5-VL the real vLLM engines load, built once."""
    from agent.engines.testmodel import build_test_model

    return build_test_model(tmp_path_factory.mktemp("models"))


@pytest.fixture
def artifacts_dir() -> Path:
    path = Path(__file__).resolve().parent.parent / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path
