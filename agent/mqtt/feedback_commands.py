"""Feedback from MQTT: ``…/<camera>/<rule>/feedback/set`` says whether an alert of the
rule on the camera was right. The payload is a bare verdict, ``confirmed`` or
``false_alarm`` in any case, about the rule's newest alert on the camera, or a JSON object
with ``verdict``, ``note``, ``onset`` and ``end`` as the API takes them and an optional
``alert_id`` (an alert of that camera and rule; the newest when absent). It is stored as
the API stores it, ``by`` ``mqtt``, which queues ``alert.feedback``; only alerts Redis
still holds take feedback from MQTT. A refused one is logged with why and changes nothing."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import cast

import redis.asyncio as aioredis
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from agent.mqtt.settings import MqttSettings
from agent.pipeline.alert_feedback import FeedbackIn, Verdict, feedback_of
from agent.pipeline.feedback import give_feedback_in_redis
from streams.bus.keys import Keys

log = logging.getLogger(__name__)
BY = "mqtt"
PAYLOAD_MAX = 4096  # bytes: a 500-character note, escaped, and the other fields fit
NEWEST_LOOKED_AT = 200  # of the camera's alerts, newest first, for the rule's newest
ALERT_ID = re.compile(r"al_[0-9a-f]{1,64}")
VERDICTS = {verdict.value for verdict in Verdict}


class FeedbackRefusedError(Exception):
    """Feedback that changes nothing; its message says why."""


@dataclass(frozen=True, slots=True)
class FeedbackCommand:
    alert_id: str | None  # None: the newest alert of the camera and rule
    given: FeedbackIn


def parse_feedback(payload: bytes) -> FeedbackCommand:
    """The command a payload carries; ``FeedbackRefusedError`` when it is malformed."""
    if len(payload) > PAYLOAD_MAX:
        raise FeedbackRefusedError(f"the payload is over {PAYLOAD_MAX} bytes")
    try:
        text = payload.decode().strip()
    except UnicodeDecodeError:
        raise FeedbackRefusedError("the payload is not UTF-8") from None
    if text.lower() in VERDICTS:
        return FeedbackCommand(None, FeedbackIn.model_validate({"verdict": text.lower()}))
    if not text.startswith("{"):
        raise FeedbackRefusedError("the payload must be confirmed, false_alarm or a JSON object")
    return _parse_json(text)


def _parse_json(text: str) -> FeedbackCommand:
    try:
        document: dict[str, object] = json.loads(text)  # a dict: the text starts with {
    except ValueError as error:
        raise FeedbackRefusedError(f"the payload is not JSON: {error}") from None
    alert_id = document.pop("alert_id", None)
    if alert_id is not None and not (isinstance(alert_id, str) and ALERT_ID.fullmatch(alert_id)):
        raise FeedbackRefusedError("alert_id must be al_ followed by hex digits")
    try:
        return FeedbackCommand(alert_id, FeedbackIn.model_validate(document))
    except ValidationError as error:
        raise FeedbackRefusedError("; ".join(map(_problem, error.errors()))) from None


def _problem(error: ErrorDetails) -> str:
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else str(error["msg"])


async def newest_alert(
    client: aioredis.Redis, keys: Keys, camera_id: str, rule_id: str
) -> str | None:
    """The rule's newest alert on the camera among the camera's ``NEWEST_LOOKED_AT`` newest
    that Redis holds; None when there is none."""
    index = keys.camera_alert_index(camera_id)
    members = cast(list[bytes], await client.zrevrange(index, 0, NEWEST_LOOKED_AT - 1))
    ids = [member.decode() for member in members]
    pipe = client.pipeline(transaction=False)
    for alert_id in ids:
        pipe.hget(keys.alert(alert_id), "rule")
    rules = cast(list[bytes | None], await pipe.execute())
    wanted = rule_id.encode()
    return next(
        (alert_id for alert_id, rule in zip(ids, rules, strict=True) if rule == wanted), None
    )


class FeedbackCommands:
    def __init__(self, client: aioredis.Redis, keys: Keys, settings: MqttSettings) -> None:
        self._client = client
        self._keys = keys
        self._settings = settings

    async def handle(self, topic: str, camera_id: str, rule_id: str, payload: bytes) -> None:
        """Stores the feedback; a refused one is logged and changes nothing."""
        if not self._settings.may_command(camera_id, rule_id):
            log.warning("mqtt feedback on %s refused: not allowed by mqtt.command_allow", topic)
            return
        try:
            alert_id, verdict = await self._give(camera_id, rule_id, payload)
        except FeedbackRefusedError as refused:
            log.warning("mqtt feedback on %s ignored: %s", topic, refused)
            return
        log.info("mqtt feedback on %s: alert %s %s", topic, alert_id, verdict)

    async def _give(self, camera_id: str, rule_id: str, payload: bytes) -> tuple[str, Verdict]:
        command = parse_feedback(payload)
        alert_id = command.alert_id or await newest_alert(
            self._client, self._keys, camera_id, rule_id
        )
        if alert_id is None:
            raise FeedbackRefusedError(f"Redis holds no alert of {rule_id} on {camera_id}")
        await self._check_owner(alert_id, camera_id, rule_id)
        stored = feedback_of(command.given, BY)
        if await give_feedback_in_redis(self._client, self._keys, alert_id, stored) is None:
            raise FeedbackRefusedError(f"Redis no longer holds alert {alert_id}")
        return alert_id, stored.verdict

    async def _check_owner(self, alert_id: str, camera_id: str, rule_id: str) -> None:
        """The alert is one of the rule on the camera (which never changes once opened)."""
        key = self._keys.alert(alert_id)
        fields = cast(list[bytes | None], await self._client.hmget(key, ["camera", "rule"]))
        camera, rule = (field.decode() if field else None for field in fields)
        if camera is None:
            raise FeedbackRefusedError(f"Redis holds no alert {alert_id}")
        if (camera, rule) != (camera_id, rule_id):
            raise FeedbackRefusedError(
                f"alert {alert_id} is of {rule} on {camera}, not {rule_id} on {camera_id}"
            )
