"""The ids Home Assistant knows Vigil's devices and entities by: device ids, component ids,
unique ids and default entity ids, made only of the characters discovery allows.

Camera and rule ids may hold ``.``, which discovery ids may not: such an id becomes a safe
one with a digest of the original after it, so ``cam.1`` and ``cam_1`` stay two devices.
Component ids start with their kind (``rule_``, ``snapshot_``, ``switch_``), so a rule
called ``camera`` or ``connection`` never takes the id of another entity.
"""

from __future__ import annotations

import hashlib
import re

# What stays as it is: [A-Za-z0-9_-] with no leading, trailing or doubled "_"
SAFE = re.compile(r"[A-Za-z0-9-]+(?:_[A-Za-z0-9-]+)*")
REPLACED = re.compile(r"[^A-Za-z0-9-]+")  # runs of anything else, "_" included
NOT_IN_ENTITY_IDS = re.compile(r"[^a-z0-9]+")
DIGEST_CHARS = 8
# Between a device's id and its component's in a unique id: no safe id holds it
SEPARATOR = "__"
CONNECTION = "connection"  # the service's connectivity sensor
CAMERA_SWITCH = "camera_switch"  # no rule's component starts with "camera_"


def safe_id(raw: str) -> str:
    """``raw`` when discovery allows it as it is; otherwise what it allows of it and a
    digest of ``raw``, which keeps two different ids apart."""
    if SAFE.fullmatch(raw):
        return raw
    digest = hashlib.sha256(raw.encode()).hexdigest()[:DIGEST_CHARS]
    kept = REPLACED.sub("_", raw).strip("_")
    return f"{kept}_{digest}" if kept else digest


def device_id(prefix: str, camera_id: str | None = None) -> str:
    """The service device's id, or a camera's under it."""
    service = safe_id(prefix)
    return service if camera_id is None else f"{service}_{safe_id(camera_id)}"


def rule_sensor(rule_id: str) -> str:
    return f"rule_{safe_id(rule_id)}"


def rule_snapshot(rule_id: str) -> str:
    return f"snapshot_{safe_id(rule_id)}"


def rule_switch(rule_id: str) -> str:
    return f"switch_{safe_id(rule_id)}"


def unique_id(device: str, component: str) -> str:
    return f"{device}{SEPARATOR}{component}"


def default_entity_id(platform: str, *parts: str) -> str:
    """``<platform>.<parts as one slug>``: the entity id Home Assistant starts from (it adds
    a number when another entity holds it already)."""
    slug = NOT_IN_ENTITY_IDS.sub("_", "_".join(parts).lower()).strip("_")
    return f"{platform}.{slug or 'vigil'}"
