"""Keeps the broker's retained discovery configs in step with the camera and rule stores:
a changed camera or rule republishes its device, a rule no longer about a camera is
removed from its device, a deleted camera empties its config (which removes the device
from Home Assistant), and the retained state of whatever was removed is cleared.

What the broker holds is remembered in Redis (``mqtt-discovery``), so a rule or camera
deleted while no publisher ran is still removed when one starts.
"""

from __future__ import annotations

from typing import cast

import aiomqtt
import redis.asyncio as aioredis

from agent.mqtt import discovery, discovery_ids
from agent.mqtt.settings import MqttSettings
from agent.pipeline.cameras_store import CameraStore
from agent.pipeline.rules_store import RuleStore
from streams.bus.keys import Keys

REMOVED = ""


class DiscoveryConfigs:
    def __init__(self, client: aioredis.Redis, keys: Keys, settings: MqttSettings) -> None:
        self._client = client
        self._keys = keys
        self._settings = settings

    async def sync(self, mqtt: aiomqtt.Client, everything: bool = False) -> bool:
        """Publishes the configs that changed (all of them when ``everything``); True when
        any changed, since new entities then need their state."""
        published = await self._published()
        wanted = await self._wanted()
        changed = False
        for topic, config in wanted.items():
            held = published.get(topic)
            payload = discovery.with_removals(held, config)
            changed = changed or held != payload
            if everything or held != payload:
                await mqtt.publish(topic, payload, qos=1, retain=True)
                await _clear(mqtt, discovery.removed_topics(held, config))
                await self._client.hset(self._keys.mqtt_discovery, topic, payload)
        for topic in published.keys() - wanted.keys():
            changed = True
            await mqtt.publish(topic, REMOVED, qos=1, retain=True)
            await _clear(mqtt, discovery.removed_topics(published[topic], None))
            await self._client.hdel(self._keys.mqtt_discovery, topic)
        return changed

    async def _published(self) -> dict[str, str]:
        raw = await self._client.hgetall(self._keys.mqtt_discovery)
        return {k.decode(): v.decode() for k, v in cast(dict[bytes, bytes], raw).items()}

    async def _wanted(self) -> dict[str, str]:
        prefix, home = self._settings.prefix, self._settings.discovery_prefix
        rules = await RuleStore(self._client, self._keys).all()
        service_topic = discovery.config_topic(home, discovery_ids.device_id(prefix))
        wanted = {service_topic: discovery.service_config(prefix)}
        for camera in await CameraStore(self._client, self._keys).all():
            topic = discovery.config_topic(home, discovery_ids.device_id(prefix, camera.id))
            config = discovery.camera_config(prefix, camera, rules, self._settings.commands)
            wanted[topic] = config
        return wanted


async def _clear(mqtt: aiomqtt.Client, retained_topics: list[str]) -> None:
    for topic in retained_topics:
        await mqtt.publish(topic, REMOVED, qos=1, retain=True)
