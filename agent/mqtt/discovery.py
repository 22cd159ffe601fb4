"""Home Assistant device-based discovery: one device per camera with a binary sensor per
rule, each reached through the Vigil service device (``via_device``). Ids come from
``discovery_ids``; every component names its default entity id."""

from __future__ import annotations

import json
from importlib import metadata
from typing import Any

from agent.mqtt import discovery_ids as ids
from agent.mqtt import topics
from agent.pipeline.rules import Rule
from streams.config import CameraConfig


def _version() -> str:
    try:
        return metadata.version("vigil-video")
    except metadata.PackageNotFoundError:
        return "unknown"


ORIGIN = {"name": "Vigil", "sw": _version()}
# Where an entity's retained state lives, in its component's config
ENTITY_TOPICS = ("state_topic", "json_attributes_topic", "image_topic")


def config_topic(discovery_prefix: str, device: str) -> str:
    return f"{discovery_prefix}/device/{device}/config"


def service_config(prefix: str) -> str:
    """The Vigil service itself, with its availability as a connectivity sensor."""
    service = ids.device_id(prefix)
    unique = ids.unique_id(service, ids.CONNECTION)
    connectivity = _entity("binary_sensor", "Connected", unique, (prefix, "connected")) | {
        "device_class": "connectivity",
        "entity_category": "diagnostic",
        "state_topic": topics.availability(prefix),
        "payload_on": topics.ONLINE,
        "payload_off": topics.OFFLINE,
    }
    device = {"ids": [service], "name": f"Vigil ({prefix})", "mf": "Vigil", "mdl": "Vigil"}
    return json.dumps({"dev": device, "o": ORIGIN, "cmps": {ids.CONNECTION: connectivity}})


def camera_config(prefix: str, camera: CameraConfig, rules: list[Rule], commands: bool) -> str:
    """The camera's device: per rule about it a binary sensor and its snapshot, and with
    commands on, a switch per rule and one for the camera."""
    components: dict[str, dict[str, Any]] = {}
    for rule in (rule for rule in rules if rule.covers(camera.id)):
        components |= _rule_components(prefix, camera.id, rule, commands)
    if commands:
        components[ids.CAMERA_SWITCH] = _camera_switch(prefix, camera.id)
    document: dict[str, Any] = {
        "dev": {
            "ids": [ids.device_id(prefix, camera.id)],
            "name": camera.name or camera.id,
            "mf": "Vigil",
            "mdl": "Camera",
            "via_device": ids.device_id(prefix),
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
    """The rule's sensor and snapshot on the camera, and with commands on its switch."""
    sensor, snapshot = ids.rule_sensor(rule.id), ids.rule_snapshot(rule.id)
    at = (prefix, camera_id, rule)
    components = {
        sensor: _rule_entity("binary_sensor", sensor, "", *at)
        | {
            "device_class": "occupancy",  # Detected / Clear
            "state_topic": topics.rule_state(prefix, camera_id, rule.id),
            "payload_on": topics.ON,
            "payload_off": topics.OFF,
            "json_attributes_topic": topics.rule_attributes(prefix, camera_id, rule.id),
        },
        snapshot: _rule_entity("image", snapshot, "snapshot", *at)
        | {
            "image_topic": topics.rule_snapshot(prefix, camera_id, rule.id),
            "content_type": "image/jpeg",
        },
    }
    if commands:
        switch = ids.rule_switch(rule.id)
        enabled = _switch_topics(prefix, camera_id, rule.id)
        components[switch] = _rule_entity("switch", switch, "enabled", *at) | enabled
    return components


def _rule_entity(
    platform: str, component: str, what: str, prefix: str, camera_id: str, rule: Rule
) -> dict[str, Any]:
    """One of the rule's entities on the camera, named for the rule, what the entity is
    and the rule's zones."""
    name = " ".join(filter(None, (rule.id, what))) + zones_label(rule.zones)
    unique = ids.unique_id(ids.device_id(prefix, camera_id), component)
    return _entity(platform, name, unique, (prefix, camera_id, rule.id, what))


def zones_label(zones: list[str]) -> str:
    """What a rule's entities add to their names: the zones the rule is about (none: the
    whole picture, nothing added)."""
    if not zones:
        return ""
    return f" \N{EM DASH} {'zone' if len(zones) == 1 else 'zones'} {', '.join(zones)}"


def _camera_switch(prefix: str, camera_id: str) -> dict[str, Any]:
    """Stays available while the camera is off (its status offline): it switches it back."""
    unique = ids.unique_id(ids.device_id(prefix, camera_id), ids.CAMERA_SWITCH)
    switch = _entity("switch", "Analysis", unique, (prefix, camera_id, "analysis"))
    switch |= _switch_topics(prefix, camera_id)
    switch["availability"] = [{"topic": topics.availability(prefix)}]
    return switch


def _entity(platform: str, name: str, unique_id: str, entity_id: tuple[str, ...]) -> dict[str, Any]:
    """What every component carries: its platform, name and ids."""
    return {
        "p": platform,
        "name": name,
        "unique_id": unique_id,
        "default_entity_id": ids.default_entity_id(platform, *entity_id),
    }


def _switch_topics(prefix: str, camera_id: str, rule_id: str | None = None) -> dict[str, Any]:
    return {
        "entity_category": "config",
        "command_topic": topics.enabled_set(prefix, camera_id, rule_id),
        "state_topic": topics.enabled_state(prefix, camera_id, rule_id),
        "payload_on": topics.ON,
        "payload_off": topics.OFF,
    }


def removed_topics(published: str | None, wanted: str | None) -> list[str]:
    """The retained topics of the entities ``wanted`` drops from ``published`` (all of
    them, and the camera's status and last report, when the device itself is dropped)."""
    if not published:
        return []
    before = json.loads(published)
    after = json.loads(wanted)["cmps"] if wanted else {}
    dropped = [c for key, c in before.get("cmps", {}).items() if key not in after]
    owned = [c[name] for c in dropped for name in ENTITY_TOPICS if name in c]
    if wanted is None:
        statuses = [entry["topic"] for entry in before.get("availability", [])[1:]]
        # The camera's last report lies beside its status (<prefix>/<camera>/...).
        owned += [*statuses, *(topic.rsplit("/", 1)[0] + "/last_report" for topic in statuses)]
    return owned
