"""`vigil mqtt` as its own process: it publishes until SIGTERM (and applies a switch
command to the stores the other roles read), then says it is offline, and keeps its
liveness heartbeat; without an ``mqtt`` section it refuses to start."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import aiomqtt
import redis.asyncio as aioredis
import yaml

from agent.pipeline.rules_store import RuleStore
from agent.runtime.embedded_mosquitto import EmbeddedMosquitto
from agent.runtime.embedded_redis import EmbeddedRedis
from agent.runtime.liveness import heartbeat_file
from streams.bus.keys import Keys
from tests.mqtt.conftest import WAIT_S, seed, subscribed, topic_prefix, until

VIGIL = Path(sys.executable).with_name("vigil")


def write_config(path: Path, document: dict[str, object]) -> Path:
    path.write_text(yaml.safe_dump(document))
    return path


async def test_vigil_mqtt_runs_the_publisher_until_stopped(
    aclient: aioredis.Redis,
    keys: Keys,
    mosquitto: EmbeddedMosquitto,
    redis_server: EmbeddedRedis,
    tmp_path: Path,
) -> None:
    await seed(aclient, keys)
    prefix = topic_prefix(keys)
    config = write_config(
        tmp_path / "vigil.yaml",
        {
            "redis_url": redis_server.url, "key_prefix": keys.prefix,
            "data_dir": str(tmp_path / "data"),
            "mqtt": {
                "url": f"mqtt://127.0.0.1:{mosquitto.port}", "prefix": prefix, "commands": True,
                "status_poll_s": 0.2,
            },
        },
    )  # fmt: skip
    process = await asyncio.create_subprocess_exec(str(VIGIL), "mqtt", "-c", str(config))
    try:
        async with subscribed(mosquitto.port, f"{prefix}/#") as seen:
            await until(lambda: seen.latest(f"{prefix}/available") == "online", "online", 60)
            assert seen.latest(f"{prefix}/dock/lane/state") == "OFF"
            async with aiomqtt.Client("127.0.0.1", mosquitto.port) as operator:
                await operator.publish(f"{prefix}/dock/lane/enabled/set", "OFF", qos=1)
            await until(lambda: seen.latest(f"{prefix}/dock/lane/enabled/state") == "OFF", "off")
            rule = await RuleStore(aclient, keys).get("lane")
            assert rule is not None
            assert rule.disabled_cameras == ["dock"]  # in the store every role reads
            heartbeat = heartbeat_file(tmp_path / "data", "mqtt")
            await until(heartbeat.exists, "the liveness heartbeat")  # written every 2 s
            process.send_signal(signal.SIGTERM)
            await until(lambda: seen.latest(f"{prefix}/available") == "offline", "offline")
        assert await asyncio.wait_for(process.wait(), WAIT_S) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_vigil_mqtt_without_an_mqtt_section_refuses_to_start(tmp_path: Path) -> None:
    config = write_config(tmp_path / "vigil.yaml", {"data_dir": str(tmp_path / "data")})
    process = await asyncio.create_subprocess_exec(
        str(VIGIL), "mqtt", "-c", str(config), stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2
    assert b"no mqtt section" in stderr
