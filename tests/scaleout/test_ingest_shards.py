"""Two ingest shards in one process sharing real RTSP cameras through a real Redis."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
import redis
from pydantic import SecretStr

from agent.cli.cameras import print_camera_table
from agent.runtime.config import VigilSettings
from agent.runtime.embedded_redis import EmbeddedRedis
from agent.runtime.ingest import ShardedIngest, ingest_from_store
from streams.buffer.frames import last_capture_s
from streams.buffer.health_records import read_health
from streams.bus.keys import Keys
from streams.config import CameraConfig
from tests.servers.rtsp import RtspServer
from tests.streams.helpers import FAST_RECONNECT, wait_for

MOUNTS = ("/live", "/cam1", "/cam2", "/cam3")
LEASE_S = 2.0


def settings_for(
    redis_server: EmbeddedRedis, keys: Keys, rtsp_server: RtspServer, shard_id: str
) -> VigilSettings:
    cameras = [
        CameraConfig(id=f"cam-{index}", url=SecretStr(rtsp_server.url(mount)))
        for index, mount in enumerate(MOUNTS)
    ]
    ingest = FAST_RECONNECT.model_copy(update={"lease_s": LEASE_S, "shard_id": shard_id})
    return VigilSettings(
        redis_url=SecretStr(redis_server.url), key_prefix=keys.prefix, ingest=ingest,
        cameras=cameras,
    )  # fmt: skip


@pytest.fixture
def shards(
    redis_server: EmbeddedRedis, redis_client: redis.Redis, keys: Keys, rtsp_server: RtspServer
) -> Iterator[tuple[ShardedIngest, ShardedIngest]]:
    with ExitStack() as stack:
        pair = tuple(
            stack.enter_context(
                ingest_from_store(settings_for(redis_server, keys, rtsp_server, name), redis_client)
            )
            for name in ("shard-a", "shard-b")
        )
        yield pair  # type: ignore[misc]


def wait_for_split(shard: ShardedIngest) -> None:
    """Steps the shard until it reads its half (its peer started first and holds all)."""

    def split() -> bool:
        shard.step()
        return len(shard.service.camera_ids) == len(MOUNTS) // 2

    wait_for(split, 10, f"{shard.shard.id} to read half of the cameras")


def readers(*shards: ShardedIngest) -> dict[str, list[str]]:
    return {shard.shard.id: shard.service.camera_ids for shard in shards}


def recent(client: redis.Redis, keys: Keys, camera_id: str, within_s: float = 1.0) -> bool:
    return time.time() - last_capture_s(client, keys, camera_id) < within_s


def test_shards_split_the_cameras_and_each_is_read_by_its_lease_holder(
    shards: tuple[ShardedIngest, ShardedIngest],
    redis_client: redis.Redis,
    keys: Keys,
    capsys: pytest.CaptureFixture[str],
) -> None:
    a, b = shards
    wait_for_split(a)
    b.step()
    cameras = [f"cam-{index}" for index in range(len(MOUNTS))]
    assert sorted(a.service.camera_ids + b.service.camera_ids) == cameras, readers(a, b)
    wait_for(lambda: all(recent(redis_client, keys, camera) for camera in cameras), 10, "frames")
    for shard in shards:
        for camera in shard.service.camera_ids:
            assert redis_client.get(keys.ingest_lease(camera)) == shard.shard.id.encode()
            assert read_health(redis_client, keys, camera, time.time())["shard"] == shard.shard.id
    print_camera_table(redis_client, keys, cameras)  # what `vigil cameras` prints
    rows = [line for line in capsys.readouterr().out.splitlines() if "cam-" in line]
    for shard in shards:
        for camera in shard.service.camera_ids:
            (row,) = [row for row in rows if f" {camera} " in row]
            assert shard.shard.id in row


def test_a_stopped_shard_s_cameras_resume_on_the_other(
    shards: tuple[ShardedIngest, ShardedIngest], redis_client: redis.Redis, keys: Keys
) -> None:
    a, b = shards
    wait_for_split(a)
    moved = b.service.camera_ids
    b.stop()
    a.step()
    assert a.service.camera_ids == [f"cam-{index}" for index in range(len(MOUNTS))]
    stopped_at = time.time()
    wait_for(
        lambda: all(last_capture_s(redis_client, keys, cam) > stopped_at for cam in moved),
        10, "frames of the moved cameras",
    )  # fmt: skip
