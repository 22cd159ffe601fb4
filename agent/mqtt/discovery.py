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
CAMERA_SWITCH = "camera__enabled"
# Where an entity's retained state lives, in its component's config
ENTITY_TOPICS = ("state_topic", "json_attributes_topic", "image_topic")


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


def camera_config(prefix: str, camera: CameraConfig, rules: list[Rule], commands: bool) -> str:
    """The camera's device: per rule about it a binary sensor and its snapshot, and with
    commands on, a switch per rule and one for the camera."""
    camera_device = device_id(prefix, camera.id)
    components: dict[str, dict[str, Any]] = {}
    for rule in (rule for rule in rules if rule.covers(camera.id)):
        components |= _rule_components(prefix, camera.id, rule, commands)
    if commands:
        components[CAMERA_SWITCH] = _camera_switch(prefix, camera.id)
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


def with_removals(published: str | None, wanted: str) -> str:
    """``wanted`` plus, for each component the broker holds that ``wanted`` drops, the
    component reduced to its platform: how device-based discovery removes one entity."""
    before = json.loads(published).get("cmps", {}) if published else {}
    document = json.loads(wanted)
    removed = {
        key: {"p": component["p"]}
        for key, component in before.items()
        if key not in document["cmps"] and len(component) > 1  # not removed already
    }
    if not removed:
        return wanted
    document["cmps"] |= removed
    return json.dumps(document)


def _rule_components(
    prefix: str, camera_id: str, rule: Rule, commands: bool
) -> dict[str, dict[str, Any]]:
    key = NOT_IN_IDS.sub("_", rule.id)
    unique = f"{device_id(prefix, camera_id)}_{key}"
    components: dict[str, dict[str, Any]] = {
        key: {
            "p": "binary_sensor",
            "name": rule.id,
            "unique_id": unique,
            "device_class": "problem",
            "state_topic": topics.rule_state(prefix, camera_id, rule.id),
            "payload_on": topics.ON,
            "payload_off": topics.OFF,
            "json_attributes_topic": topics.rule_attributes(prefix, camera_id, rule.id),
        },
        f"{key}__snapshot": {
            "p": "image",
            "name": f"{rule.id} snapshot",
            "unique_id": f"{unique}_snapshot",
            "image_topic": topics.rule_snapshot(prefix, camera_id, rule.id),
            "content_type": "image/jpeg",
        },
    }
    if commands:
        components[f"{key}__enabled"] = _switch(
            f"{rule.id} enabled", f"{unique}_enabled", prefix, camera_id, rule.id
        )
    return components


def _camera_switch(prefix: str, camera_id: str) -> dict[str, Any]:
    """Stays available while the camera is off (its status offline): it switches it back."""
    switch = _switch("Analysis", f"{device_id(prefix, camera_id)}_enabled", prefix, camera_id)
    switch["availability"] = [{"topic": topics.availability(prefix)}]
    return switch


def _switch(
    name: str, unique_id: str, prefix: str, camera_id: str, rule_id: str | None = None
) -> dict[str, Any]:
    return {
        "p": "switch",
        "name": name,
        "unique_id": unique_id,
        "command_topic": topics.enabled_set(prefix, camera_id, rule_id),
        "state_topic": topics.enabled_state(prefix, camera_id, rule_id),
        "payload_on": topics.ON,
        "payload_off": topics.OFF,
    }


def removed_topics(published: str | None, wanted: str | None) -> list[str]:
    """The retained topics of the entities ``wanted`` drops from ``published`` (all of
    them, and the camera's status, when the device itself is dropped)."""
    if not published:
        return []
    before = json.loads(published)
    after = json.loads(wanted)["cmps"] if wanted else {}
    dropped = [c for key, c in before.get("cmps", {}).items() if key not in after]
    owned = [c[name] for c in dropped for name in ENTITY_TOPICS if name in c]
    if wanted is None:
        owned += [entry["topic"] for entry in before.get("availability", [])[1:]]
    return owned
