"""Keeps the broker's retained discovery configs in step with the camera and rule stores:
a changed camera or rule republishes its device, a deleted camera empties its config
(which removes the device from Home Assistant)."""

from __future__ import annotations

import aiomqtt
import redis.asyncio as aioredis

from agent.mqtt import discovery
from agent.mqtt.settings import MqttSettings
from agent.pipeline.cameras_store import CameraStore
from agent.pipeline.rules_store import RuleStore
from streams.keys import Keys

REMOVED = ""


class DiscoveryConfigs:
    def __init__(self, client: aioredis.Redis, keys: Keys, settings: MqttSettings) -> None:
        self._client = client
        self._keys = keys
        self._settings = settings
        self._published: dict[str, str] = {}  # config topic -> payload the broker holds

    async def sync(self, mqtt: aiomqtt.Client, everything: bool = False) -> None:
        """Publishes the configs that changed (all of them when ``everything``)."""
        wanted = await self._wanted()
        gone = {topic: REMOVED for topic in self._published.keys() - wanted.keys()}
        for topic, payload in (wanted | gone).items():
            if everything or self._published.get(topic) != payload:
                await mqtt.publish(topic, payload, qos=1, retain=True)
                self._published[topic] = payload
        for topic in gone:
            del self._published[topic]

    async def _wanted(self) -> dict[str, str]:
        prefix, home = self._settings.prefix, self._settings.discovery_prefix
        rules = await RuleStore(self._client, self._keys).all()
        service_topic = discovery.config_topic(home, discovery.device_id(prefix))
        wanted = {service_topic: discovery.service_config(prefix)}
        for camera in await CameraStore(self._client, self._keys).all():
            topic = discovery.config_topic(home, discovery.device_id(prefix, camera.id))
            wanted[topic] = discovery.camera_config(prefix, camera, rules)
        return wanted
