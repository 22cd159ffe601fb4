"""The retained state from Redis: every camera's status and every (camera, rule)'s ON/OFF."""

from __future__ import annotations

import logging
import time
from typing import cast

import aiomqtt
import redis.asyncio as aioredis

from agent.mqtt import topics
from agent.mqtt.relay import publish_alert_state
from agent.mqtt.settings import MqttSettings
from agent.pipeline.alert_records import AlertRecord, record_from_hash
from agent.pipeline.cameras_store import CameraStore
from agent.pipeline.rules_store import RuleStore
from streams.buffer.health_records import health_from_record
from streams.bus.keys import Keys

log = logging.getLogger(__name__)


async def open_alerts(client: aioredis.Redis, keys: Keys, camera_id: str) -> list[AlertRecord]:
    members = cast(set[bytes], await client.smembers(keys.open_alerts(camera_id)))
    ids = sorted(member.decode() for member in members)
    pipe = client.pipeline(transaction=False)
    for alert_id in ids:
        pipe.hgetall(keys.alert(alert_id))
    raws = [raw for raw in await pipe.execute() if raw and raw.get(b"id")]
    return [record for record in map(_readable, raws) if record is not None]


def _readable(raw: dict[bytes, bytes]) -> AlertRecord | None:
    """The record, or None (logged) when it does not parse: its events are dead-lettered,
    and the rest of the retained state must still be published."""
    try:
        return record_from_hash(raw)
    except (KeyError, ValueError) as error:
        log.error(
            "alert %r left out of the MQTT state: its record does not parse: %r",
            raw.get(b"id"),
            error,
        )
        return None


async def publish_snapshot(
    mqtt: aiomqtt.Client,
    client: aioredis.Redis,
    keys: Keys,
    settings: MqttSettings,
    base_url: str,
) -> None:
    """Publishes the whole retained state, correcting whatever the broker kept from before."""
    rules = await RuleStore(client, keys).all()
    for camera in await CameraStore(client, keys).all():
        opened = {alert.rule: alert for alert in await open_alerts(client, keys, camera.id)}
        for rule in (rule for rule in rules if rule.covers(camera.id)):
            if rule.id in opened:
                await publish_alert_state(mqtt, settings, opened[rule.id], base_url)
            else:
                topic = topics.rule_state(settings.prefix, camera.id, rule.id)
                await mqtt.publish(topic, topics.OFF, qos=settings.qos, retain=True)
    await publish_statuses(mqtt, client, keys, settings)


class SwitchStates:
    """The retained ``…/enabled/state`` of every camera and (camera, rule), republished
    when it changes, whether by an MQTT command, the API or the dashboard."""

    def __init__(self, client: aioredis.Redis, keys: Keys, settings: MqttSettings) -> None:
        self._client = client
        self._keys = keys
        self._settings = settings
        self._published: dict[str, str] = {}

    async def sync(self, mqtt: aiomqtt.Client, everything: bool = False) -> None:
        if not self._settings.commands:
            return
        for topic, state in (await self._wanted()).items():
            if everything or self._published.get(topic) != state:
                await mqtt.publish(topic, state, qos=self._settings.qos, retain=True)
                self._published[topic] = state

    async def _wanted(self) -> dict[str, str]:
        prefix = self._settings.prefix
        rules = await RuleStore(self._client, self._keys).all()
        wanted = {}
        for camera in await CameraStore(self._client, self._keys).all():
            wanted[topics.enabled_state(prefix, camera.id)] = topics.on_off(camera.enabled)
            for rule in (rule for rule in rules if rule.covers(camera.id)):
                topic = topics.enabled_state(prefix, camera.id, rule.id)
                wanted[topic] = topics.on_off(rule.enabled_on(camera.id))
        return wanted


async def publish_statuses(
    mqtt: aiomqtt.Client, client: aioredis.Redis, keys: Keys, settings: MqttSettings
) -> None:
    now = time.time()
    for camera in await CameraStore(client, keys).all():
        raw = cast(dict[bytes, bytes], await client.hgetall(keys.health(camera.id)))
        health = health_from_record(camera.id, raw, now)
        status = topics.camera_online(health["state"])
        topic = topics.camera_status(settings.prefix, camera.id)
        await mqtt.publish(topic, status, qos=settings.qos, retain=True)
