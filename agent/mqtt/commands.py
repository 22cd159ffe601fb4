"""Commands from MQTT. Switches: ON or OFF on ``…/enabled/set`` switches a camera, or a
rule on one camera, through the same camera and rule stores the API edits (so the API and
the dashboard show it, and the next window follows it); the publisher answers on the
retained ``…/enabled/state``. Feedback on an alert, on ``…/<camera>/<rule>/feedback/set``,
is ``agent.mqtt.feedback_commands``. Commands are off unless ``mqtt.commands`` is set,
and ``mqtt.command_allow`` narrows what they may reach; who may publish them at all is
the broker's access control."""

from __future__ import annotations

import logging

import redis.asyncio as aioredis

from agent.mqtt import topics
from agent.mqtt.feedback_commands import FeedbackCommands
from agent.mqtt.settings import MqttSettings
from agent.pipeline.cameras_store import CameraStore
from agent.pipeline.rules_store import RuleStore
from streams.bus.keys import Keys

log = logging.getLogger(__name__)
PAYLOADS = {b"ON": True, b"OFF": False}


class Commands:
    def __init__(self, client: aioredis.Redis, keys: Keys, settings: MqttSettings) -> None:
        self._cameras = CameraStore(client, keys)
        self._rules = RuleStore(client, keys)
        self._feedback = FeedbackCommands(client, keys, settings)
        self._settings = settings

    async def handle(self, topic: str, payload: bytes) -> None:
        """Applies one command; a refused or malformed one is logged and changes nothing."""
        prefix = self._settings.prefix
        if (switch := topics.command_target(prefix, topic)) is not None:
            await self._switch(topic, *switch, payload)
        elif (feedback := topics.feedback_target(prefix, topic)) is not None:
            await self._feedback.handle(topic, *feedback, payload)

    async def _switch(
        self, topic: str, camera_id: str, rule_id: str | None, payload: bytes
    ) -> None:
        on = PAYLOADS.get(payload.strip().upper())
        if on is None:
            log.warning("mqtt command on %s ignored: the payload must be ON or OFF", topic)
            return
        if not self._settings.may_command(camera_id, rule_id):
            log.warning("mqtt command on %s refused: not allowed by mqtt.command_allow", topic)
            return
        switched = await (
            self._switch_rule(camera_id, rule_id, on)
            if rule_id is not None
            else self._switch_camera(camera_id, on)
        )
        if switched is None:
            log.warning("mqtt command on %s ignored: no such camera or rule", topic)
            return
        log.info("mqtt command on %s: now %s", topic, topics.on_off(switched))

    async def _switch_camera(self, camera_id: str, on: bool) -> bool | None:
        camera = await self._cameras.get(camera_id)
        if camera is None:
            return None
        if camera.enabled != on:
            await self._cameras.put(camera.model_copy(update={"enabled": on}))
        return on

    async def _switch_rule(self, camera_id: str, rule_id: str, on: bool) -> bool | None:
        """The rule's state on the camera afterwards: still OFF when the rule is switched
        off everywhere (only the rule's own ``enabled`` turns that back on)."""
        rule = await self._rules.get(rule_id)
        if rule is None or not rule.covers(camera_id) or not await self._cameras.get(camera_id):
            return None
        switched = rule.switched(camera_id, on)
        if switched != rule:
            await self._rules.put(switched)
        return switched.enabled_on(camera_id)
