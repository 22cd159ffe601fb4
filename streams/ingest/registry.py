"""The cameras hash in Redis (``vigil:cameras``): what ingest and the scheduler watch.

The API and the config seed write it (``agent/pipeline/cameras_store.py``); every entry is the
JSON of a ``CameraConfig`` with its URL in clear, since ingest needs the password.
"""

from __future__ import annotations

import json
import logging
from typing import cast

import redis
from pydantic import ValidationError

from streams.bus.keys import Keys
from streams.config import CameraConfig, CameraSpec, IngestSettings, resolve_camera

log = logging.getLogger(__name__)


def camera_document(camera: CameraConfig) -> str:
    fields = camera.model_dump(exclude={"url"})
    return json.dumps({**fields, "url": camera.url.get_secret_value()})


def seed_cameras(client: redis.Redis, keys: Keys, cameras: list[CameraConfig]) -> None:
    """Adds the configured cameras that Redis does not hold yet; stored edits win."""
    for camera in cameras:
        client.hsetnx(keys.cameras, camera.id, camera_document(camera))


def cameras_from_hash(raw: dict[bytes, bytes]) -> list[CameraConfig]:
    """Valid cameras of a HGETALL reply, by id; invalid entries are logged and skipped."""
    cameras = []
    for camera_id, document in sorted(raw.items()):
        try:
            cameras.append(CameraConfig.model_validate_json(document))
        except ValidationError:
            log.error("camera %s in Redis is invalid and is ignored", camera_id.decode())
    return cameras


def stored_specs(client: redis.Redis, keys: Keys, defaults: IngestSettings) -> list[CameraSpec]:
    """The enabled stored cameras with their overrides resolved."""
    raw = cast(dict[bytes, bytes], client.hgetall(keys.cameras))
    return [resolve_camera(camera, defaults) for camera in cameras_from_hash(raw) if camera.enabled]
