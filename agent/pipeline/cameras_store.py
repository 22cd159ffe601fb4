"""Cameras in Redis: seeded from vigil.yaml, edited through the API.

Each camera is stored as the JSON of its ``CameraConfig`` with the URL in clear (ingest
needs the password); everything that shows a camera goes through ``public_url``.
"""

from __future__ import annotations

import logging
from typing import cast

import redis.asyncio as aioredis

from streams.bus.keys import Keys
from streams.config import CameraConfig, IngestSettings, resolve_camera
from streams.ingest.registry import camera_document, cameras_from_hash
from streams.urls import CameraUrlError, mask_url, parse_camera_url, redact
from streams.zones import CameraZones

log = logging.getLogger(__name__)


def public_url(camera: CameraConfig) -> str:
    """The camera URL as anyone may see it: the password masked wherever it appears."""
    raw = camera.url.get_secret_value()
    try:
        password = parse_camera_url(raw).password
    except CameraUrlError:
        password = None
    return redact(mask_url(raw), (password,) if password else ())


class CameraStore:
    def __init__(self, client: aioredis.Redis, keys: Keys) -> None:
        self._client = client
        self._key = keys.cameras

    async def seed(self, cameras: list[CameraConfig]) -> None:
        """Adds the configured cameras that Redis does not hold yet; stored edits win."""
        for camera in cameras:
            await self._client.hsetnx(self._key, camera.id, camera_document(camera))

    async def all(self) -> list[CameraConfig]:
        return cameras_from_hash(cast(dict[bytes, bytes], await self._client.hgetall(self._key)))

    async def fps_by_camera(self, defaults: IngestSettings) -> dict[str, float]:
        """Each enabled camera's sampling rate: the scheduler's camera set."""
        return {
            camera.id: resolve_camera(camera, defaults).fps
            for camera in await self.all()
            if camera.enabled
        }

    async def get(self, camera_id: str) -> CameraConfig | None:
        document = await self._client.hget(self._key, camera_id)
        return None if document is None else CameraConfig.model_validate_json(document)

    async def add(self, camera: CameraConfig) -> bool:
        """Stores a new camera; False when one with that id exists."""
        return bool(await self._client.hsetnx(self._key, camera.id, camera_document(camera)))

    async def put(self, camera: CameraConfig) -> None:
        await self._client.hset(self._key, camera.id, camera_document(camera))

    async def delete(self, camera_id: str) -> bool:
        return bool(await self._client.hdel(self._key, camera_id))


class ZoneBook:
    """Every camera's zones and masks, read from the cameras hash; a camera's document is
    parsed again only when it changed (checking polygons is not free, and the scheduler
    asks on every pass)."""

    def __init__(self, client: aioredis.Redis, keys: Keys) -> None:
        self._client = client
        self._key = keys.cameras
        self._parsed: dict[str, tuple[bytes, CameraZones]] = {}

    async def all(self) -> dict[str, CameraZones]:
        raw = cast(dict[bytes, bytes], await self._client.hgetall(self._key))
        parsed: dict[str, tuple[bytes, CameraZones]] = {}
        for camera_id, document in raw.items():
            name = camera_id.decode()
            known = self._parsed.get(name)
            if known is not None and known[0] == document:
                parsed[name] = known
                continue
            cameras = cameras_from_hash({camera_id: document})  # logs and skips an invalid one
            if cameras:
                parsed[name] = (document, cameras[0].zone_set())
        self._parsed = parsed
        return {name: zones for name, (_, zones) in parsed.items()}
