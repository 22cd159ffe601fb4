"""A ``report.ready`` outbox event on MQTT: retained on each of the report's cameras'
``<prefix>/<camera>/last_report``, then once on ``<prefix>/reports`` (not retained)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import aiomqtt

from agent.mqtt import topics
from agent.mqtt.settings import MqttSettings
from agent.pipeline.alert_state import EventType
from streams.bus.dead_letters import unreadable
from streams.config import CAMERA_ID_PATTERN

REPORT_READY = EventType.REPORT_READY.value.encode()


@dataclass(frozen=True)
class ReportEvent:
    report_id: str
    cameras: list[str]
    payload: dict[str, Any]  # the report in brief, as ``agent.reports.delivery`` wrote it


def is_report_event(fields: dict[bytes, bytes]) -> bool:
    return fields.get(b"type") == REPORT_READY


def report_event(fields: dict[bytes, bytes]) -> ReportEvent:
    """The event's report; ``PoisonError`` when it has no id, its payload is not a JSON
    object, or its cameras are not a list of camera ids (each one a topic level)."""
    with unreadable("the report event"):
        report_id = fields[b"report_id"].decode()
        payload = json.loads(fields[b"payload"])
        if not report_id or not isinstance(payload, dict):
            raise ValueError("no report id, or a payload that is not a JSON object")
        cameras = payload.get("cameras")
        if not isinstance(cameras, list) or not all(map(_camera_id, cameras)):
            raise ValueError(f"cameras {cameras!r} are not a list of camera ids")
        return ReportEvent(report_id, cameras, payload)


async def publish_report(
    mqtt: aiomqtt.Client, settings: MqttSettings, event: ReportEvent, base_url: str
) -> None:
    prefix, qos = settings.prefix, settings.qos
    body = topics.report(event.payload, event.report_id, base_url)
    for camera_id in event.cameras:
        await mqtt.publish(topics.last_report(prefix, camera_id), body, qos=qos, retain=True)
    await mqtt.publish(topics.reports(prefix), body, qos=qos)


def _camera_id(camera_id: object) -> bool:
    return isinstance(camera_id, str) and re.fullmatch(CAMERA_ID_PATTERN, camera_id) is not None
