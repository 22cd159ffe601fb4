"""Home Assistant device-based discovery: one device per camera with a binary sensor per
rule, each reached through the Vigil service device (``via_device``)."""

from __future__ import annotations

import json
import re
from importlib import metadata
from typing import Any

from agent.mqtt import topics
from agent.pipeline.rules import Rule
from streams.config import CameraConfig

NOT_IN_IDS = re.compile(r"[^A-Za-z0-9_-]")  # discovery ids allow these characters only


def _version() -> str:
    try:
        return metadata.version("vigil-video")
    except metadata.PackageNotFoundError:
        return "unknown"


ORIGIN = {"name": "Vigil", "sw": _version()}


def device_id(prefix: str, camera_id: str | None = None) -> str:
    """The service device's id, or a camera's under it."""
    name = prefix if camera_id is None else f"{prefix}_{camera_id}"
    return NOT_IN_IDS.sub("_", name)


def config_topic(discovery_prefix: str, device: str) -> str:
    return f"{discovery_prefix}/device/{device}/config"


def service_config(prefix: str) -> str:
    """The Vigil service itself, with its availability as a connectivity sensor."""
    service = device_id(prefix)
    connectivity = {
        "p": "binary_sensor",
        "name": "Connected",
        "unique_id": f"{service}_connected",
        "device_class": "connectivity",
        "state_topic": topics.availability(prefix),
        "payload_on": topics.ONLINE,
        "payload_off": topics.OFFLINE,
    }
    device = {"ids": [service], "name": f"Vigil ({prefix})", "mf": "Vigil", "mdl": "Vigil"}
    return json.dumps({"dev": device, "o": ORIGIN, "cmps": {"connected": connectivity}})


def camera_config(prefix: str, camera: CameraConfig, rules: list[Rule]) -> str:
    """The camera's device with a binary sensor per rule that applies to it."""
    camera_device = device_id(prefix, camera.id)
    components = {
        NOT_IN_IDS.sub("_", rule.id): _rule_sensor(prefix, camera.id, rule)
        for rule in rules
        if rule.applies_to(camera.id)
    }
    document: dict[str, Any] = {
        "dev": {
            "ids": [camera_device],
            "name": camera.name or camera.id,
            "mf": "Vigil",
            "mdl": "Camera",
            "via_device": device_id(prefix),
        },
        "o": ORIGIN,
        "cmps": components,
        "availability": [
            {"topic": topics.availability(prefix)},
            {"topic": topics.camera_status(prefix, camera.id)},
        ],
        "availability_mode": "all",
    }
    return json.dumps(document)


def _rule_sensor(prefix: str, camera_id: str, rule: Rule) -> dict[str, str]:
    return {
        "p": "binary_sensor",
        "name": rule.id,
        "unique_id": f"{device_id(prefix, camera_id)}_{NOT_IN_IDS.sub('_', rule.id)}",
        "device_class": "problem",
        "state_topic": topics.rule_state(prefix, camera_id, rule.id),
        "payload_on": topics.ON,
        "payload_off": topics.OFF,
        "json_attributes_topic": topics.rule_attributes(prefix, camera_id, rule.id),
    }
