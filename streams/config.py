"""Typed configuration of the video side: ingest defaults and cameras with overrides."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from streams.urls import parse_camera_url
from streams.zones import ZONES_MAX, CameraZones, Zone

CAMERA_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
# Ingest settings of the whole process, not of a camera.
PROCESS_SETTINGS = {"queue_frames", "health_interval_s", "lease_s", "shard_id"}
CAMERA_OVERRIDES = {"fps", "max_pixels", "jpeg_quality", "retention_s", "decode"}

# exact: the kept frames are those of a full decode. fast: the deblocking filter is
# skipped too, for less CPU and slightly different pixels (streams/decode/plan.py).
DecodeMode = Literal["exact", "fast"]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IngestSettings(StrictModel):
    """Defaults for every camera; each camera may override the per-camera ones."""

    fps: Annotated[float, Field(gt=0, le=30, description="Sampling rate stored in Redis.")] = 4.0
    max_pixels: Annotated[
        int,
        Field(
            ge=28 * 28 * 4,
            description="Pixel budget of a stored frame, strip excluded (448x252 by default).",
        ),
    ] = 448 * 252
    jpeg_quality: Annotated[int, Field(ge=30, le=100)] = 85
    retention_s: Annotated[float, Field(gt=0, description="Rolling buffer length.")] = 600.0
    decode: DecodeMode = Field(
        default="exact",
        description="exact: frames never kept are skipped where the codec allows, kept "
        "frames are a full decode's; fast: deblocking is skipped as well (less CPU, "
        "slightly different pixels).",
    )
    backoff_initial_s: Annotated[float, Field(gt=0)] = 0.5
    backoff_cap_s: Annotated[float, Field(gt=0, description="Longest reconnect delay.")] = 30.0
    connect_timeout_s: Annotated[float, Field(gt=0)] = 5.0
    read_timeout_s: Annotated[float, Field(gt=0)] = 5.0
    stall_frames: Annotated[
        int, Field(ge=1, description="Missing source frames after which a camera is stalled.")
    ] = 30
    stall_min_s: Annotated[float, Field(gt=0)] = 2.0
    queue_frames: Annotated[
        int, Field(ge=1, description="Sampled frames waiting for Redis before drops start.")
    ] = 256
    health_interval_s: Annotated[float, Field(gt=0)] = 1.0
    lease_s: Annotated[
        float, Field(ge=1, description="Camera lease of a shard: a dead one's cameras move on.")
    ] = 15.0
    shard_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$",
        description="This ingest process's name among the shards; default host-pid.",
    )


class CameraConfig(StrictModel):
    """One camera. Unset overrides take the ingest defaults."""

    id: Annotated[str, Field(pattern=CAMERA_ID_PATTERN)]
    url: SecretStr = Field(
        description="rtsp://, rtsps://, whep://, wheps:// (WebRTC), file:// or a local path."
    )
    name: str = ""
    enabled: bool = True
    fps: Annotated[float | None, Field(gt=0, le=30)] = None
    max_pixels: Annotated[int | None, Field(ge=28 * 28 * 4)] = None
    jpeg_quality: Annotated[int | None, Field(ge=30, le=100)] = None
    retention_s: Annotated[float | None, Field(gt=0)] = None
    decode: DecodeMode | None = None
    zones: list[Zone] = Field(
        default=[], max_length=ZONES_MAX, description="Named places rules can be about."
    )
    masks: list[Zone] = Field(
        default=[], max_length=ZONES_MAX, description="Places whose motion never counts."
    )

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, url: SecretStr) -> SecretStr:
        parse_camera_url(url.get_secret_value())
        return url

    @model_validator(mode="after")
    def _unique_zone_names(self) -> CameraConfig:
        self.zone_set()
        return self

    def zone_set(self) -> CameraZones:
        return CameraZones(zones=self.zones, masks=self.masks)


class CameraSpec(StrictModel):
    """A camera with every override resolved: what an ingest reader works from."""

    id: str
    url: SecretStr
    fps: float
    max_pixels: int
    jpeg_quality: int
    retention_s: float
    decode: DecodeMode
    backoff_initial_s: float
    backoff_cap_s: float
    connect_timeout_s: float
    read_timeout_s: float
    stall_frames: int
    stall_min_s: float


def resolve_camera(camera: CameraConfig, defaults: IngestSettings) -> CameraSpec:
    overrides = camera.model_dump(exclude_none=True, include=CAMERA_OVERRIDES)
    base = defaults.model_dump(exclude=PROCESS_SETTINGS)
    return CameraSpec(id=camera.id, url=camera.url, **{**base, **overrides})
