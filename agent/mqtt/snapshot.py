"""The retained state from Redis: every camera's status, and every (camera, rule)'s ON/OFF with
its attributes (its latest alert and its zones)."""

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
from agent.pipeline.rules import Rule
from agent.pipeline.rules_store import RuleStore
from streams.buffer.health_records import health_from_record
from streams.bus.keys import Keys

log = logging.getLogger(__name__)
RECENT_ALERTS = 200  # of a camera, read for the newest closed alert of each of its rules


async def open_alerts(client: aioredis.Redis, keys: Keys, camera_id: str) -> list[AlertRecord]:
    members = cast(set[bytes], await client.smembers(keys.open_alerts(camera_id)))
    return await _records(client, keys, sorted(member.decode() for member in members))


async def latest_alerts(
    client: aioredis.Redis, keys: Keys, camera_id: str
) -> dict[str, AlertRecord]:
    """Rule id -> its open alert on the camera, else its newest closed one among the
    camera's ``RECENT_ALERTS`` newest that Redis holds: what its attributes describe."""
    index = keys.camera_alert_index(camera_id)
    newest = cast(list[bytes], await client.zrevrange(index, 0, RECENT_ALERTS - 1))
    recent = await _records(client, keys, [member.decode() for member in newest])
    closed = [alert for alert in reversed(recent) if alert.state == "closed"]
    latest = {alert.rule: alert for alert in closed}  # oldest first: the newest stays
    return latest | {alert.rule: alert for alert in await open_alerts(client, keys, camera_id)}


async def _records(client: aioredis.Redis, keys: Keys, ids: list[str]) -> list[AlertRecord]:
    """The alerts Redis still holds, in order, leaving out those that do not parse."""
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
        latest = await latest_alerts(client, keys, camera.id)
        for rule in (rule for rule in rules if rule.covers(camera.id)):
            alert = latest.get(rule.id)
            if alert is not None:
                await publish_alert_state(mqtt, settings, alert, base_url, rule.zones)
            else:
                await _publish_no_alert(mqtt, settings, camera.id, rule)
    await publish_statuses(mqtt, client, keys, settings)


async def _publish_no_alert(
    mqtt: aiomqtt.Client, settings: MqttSettings, camera_id: str, rule: Rule
) -> None:
    """OFF, with the rule's zones as the attributes."""
    prefix, qos = settings.prefix, settings.qos
    attributes = topics.rule_only_attributes(rule.zones)
    await mqtt.publish(
        topics.rule_attributes(prefix, camera_id, rule.id), attributes, qos=qos, retain=True
    )
    await mqtt.publish(
        topics.rule_state(prefix, camera_id, rule.id), topics.OFF, qos=qos, retain=True
    )


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
