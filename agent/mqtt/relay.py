"""From the ``outbox`` stream (group ``mqtt``) to ``<prefix>/alerts`` and the retained state;
a report's event to ``<prefix>/reports`` and its cameras' ``last_report``.

An entry is acked only after its publish completed (PUBACK at QoS 1), so an event the
broker never got stays pending and is sent again; entries a crashed publisher left
pending are claimed after ``CLAIM_IDLE_MS``. While the broker is down the events wait
in the outbox, which the alert book bounds with its MAXLEN. An event whose alert record
(or report event) does not parse goes to the group's dead letters at once; one that
fails otherwise makes the publisher restart, and goes there after ``MAX_FAILURES`` tries
(``streams/bus/dead_letters.py``). An entry with no alert id, or whose alert expired
from Redis, is acked unpublished.
"""

from __future__ import annotations

from typing import cast

import aiomqtt
import redis.asyncio as aioredis
from pydantic import ValidationError

from agent.mqtt import topics
from agent.mqtt.report_events import is_report_event, publish_report, report_event
from agent.mqtt.settings import MqttSettings
from agent.pipeline.alert_records import AlertRecord, record_from_hash
from agent.pipeline.alert_state import EventType
from agent.pipeline.rules_store import RuleStore
from streams.bus.consumer_group import Entry, GroupReader
from streams.bus.consumer_group import ensure_group as ensure_stream_group
from streams.bus.dead_letters import TRANSIENT, DeadLetters, unreadable
from streams.bus.keys import MQTT_GROUP, Keys

BATCH = 100
READ_BLOCK_MS = 1000
CLAIM_IDLE_MS = 60_000
SNAPSHOT_EVENTS = frozenset({EventType.OPENED.value, EventType.UPDATED.value})


async def ensure_group(client: aioredis.Redis, keys: Keys) -> None:
    await ensure_stream_group(client, keys.outbox, MQTT_GROUP)


class OutboxRelay:
    def __init__(
        self,
        client: aioredis.Redis,
        keys: Keys,
        settings: MqttSettings,
        consumer: str,
        base_url: str,
    ) -> None:
        self._base_url = base_url  # the API's public address, for the attributes' links
        self._client = client
        self._keys = keys
        self._settings = settings
        self._rules = RuleStore(client, keys)
        self._reader = GroupReader(client, keys.outbox, MQTT_GROUP, consumer, BATCH, CLAIM_IDLE_MS)
        self.dead_letters = DeadLetters(client, keys, MQTT_GROUP)

    async def step(self, mqtt: aiomqtt.Client, block_ms: int = READ_BLOCK_MS) -> int:
        """Publishes one batch (reclaimed, own pending, or new); returns how many entries."""
        entries = await self._reader.next_batch(block_ms)
        for entry in entries:
            await self._relay(mqtt, entry)
        return len(entries)

    async def _relay(self, mqtt: aiomqtt.Client, entry: Entry) -> None:
        """Publishes and acks the entry; a failure that is not the broker's or Redis's is
        counted against it, and raised until the entry is dead-lettered."""
        try:
            await self._publish(mqtt, entry[1])
        except (aiomqtt.MqttError, *TRANSIENT):
            raise
        except Exception as error:
            if not await self.dead_letters.failed(entry, error):
                raise
            return
        await self.dead_letters.ack([entry[0]])

    async def _publish(self, mqtt: aiomqtt.Client, fields: dict[bytes, bytes]) -> None:
        if is_report_event(fields):
            event = report_event(fields)
            await publish_report(mqtt, self._settings, event, self._base_url)
        else:
            await self._publish_alert(mqtt, fields)

    async def _publish_alert(self, mqtt: aiomqtt.Client, fields: dict[bytes, bytes]) -> None:
        alert_id = fields.get(b"alert_id", b"").decode()
        key = self._keys.alert(alert_id)
        raw = cast(dict[bytes, bytes], await self._client.hgetall(key)) if alert_id else {}
        if not raw or not raw.get(b"id"):
            return  # the alert expired from Redis: nothing left to describe
        alert = _parsed(raw)
        event_type = fields.get(b"type", b"").decode()
        zones = await self._zones(alert.rule)
        await publish_alert_state(mqtt, self._settings, alert, self._base_url, zones)
        if event_type in SNAPSHOT_EVENTS:
            await self._publish_snapshot(mqtt, alert)
        body = topics.event(event_type, await self._before(alert.id), alert)
        await mqtt.publish(topics.alerts(self._settings.prefix), body, qos=self._settings.qos)
        await self._remember(alert)

    async def _publish_snapshot(self, mqtt: aiomqtt.Client, alert: AlertRecord) -> None:
        """The newest frame of the alert's evidence, retained until a later alert's."""
        jpeg = cast(bytes | None, await self._client.lindex(self._keys.evidence(alert.id), -1))
        if jpeg:
            topic = topics.rule_snapshot(self._settings.prefix, alert.camera, alert.rule)
            await mqtt.publish(topic, jpeg, qos=self._settings.qos, retain=True)

    async def _zones(self, rule_id: str) -> list[str]:
        """The rule's zones; none when the rule is gone or unreadable, since discovery then
        drops its entities (the event itself is still published)."""
        try:
            rule = await self._rules.get(rule_id)
        except ValidationError:
            return []
        return [] if rule is None else rule.zones

    async def _before(self, alert_id: str) -> AlertRecord | None:
        """The record the alert's previous event carried (kept in Redis across restarts)."""
        document = await self._client.hget(self._keys.mqtt_published, alert_id)
        return None if document is None else AlertRecord.model_validate_json(document)

    async def _remember(self, alert: AlertRecord) -> None:
        if alert.state == "closed":
            await self._client.hdel(self._keys.mqtt_published, alert.id)
        else:
            await self._client.hset(self._keys.mqtt_published, alert.id, alert.model_dump_json())


async def publish_alert_state(
    mqtt: aiomqtt.Client,
    settings: MqttSettings,
    alert: AlertRecord,
    base_url: str,
    zones: list[str],
) -> None:
    """The retained ON/OFF of the alert's camera and rule, and the alert (with the rule's
    zones) as its attributes."""
    prefix, qos = settings.prefix, settings.qos
    state = topics.OFF if alert.state == "closed" else topics.ON
    attributes_topic = topics.rule_attributes(prefix, alert.camera, alert.rule)
    attributes = topics.attributes(alert, base_url, zones)
    await mqtt.publish(attributes_topic, attributes, qos=qos, retain=True)
    state_topic = topics.rule_state(prefix, alert.camera, alert.rule)
    await mqtt.publish(state_topic, state, qos=qos, retain=True)


def _parsed(raw: dict[bytes, bytes]) -> AlertRecord:
    with unreadable("the alert record"):
        return record_from_hash(raw)
