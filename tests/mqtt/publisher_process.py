"""Runs a publisher in a process of its own, so a test can SIGKILL it: argv is the Redis
URL, the key prefix and the broker port; prints ``ready`` once it runs."""

from __future__ import annotations

import asyncio
import sys

import redis.asyncio as aioredis

from agent.mqtt.publisher import MqttPublisher
from streams.bus.keys import Keys
from tests.mqtt.conftest import BASE_URL, mqtt_settings


async def main(redis_url: str, prefix: str, port: int) -> None:
    client = aioredis.from_url(redis_url)
    keys = Keys(prefix)
    settings = mqtt_settings(port, prefix.rstrip(":"))
    print("ready", flush=True)
    await MqttPublisher(client, keys, settings, "process", BASE_URL).run(asyncio.Event())


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
