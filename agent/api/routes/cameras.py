"""/v1/cameras: runtime camera config (password write-only), health, latest frame, clips."""

from __future__ import annotations

import time
from typing import Annotated, cast

from fastapi import APIRouter, HTTPException, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from agent.api.clips import encode_clip
from agent.api.deps import AdminKey, Limits, ReadKey, State
from agent.api.errors import responses
from agent.pipeline.cameras_store import CameraStore, public_url
from agent.pipeline.clip_pages import buffered_pages
from streams.buffer.frames import latest_frame_async
from streams.buffer.health_records import health_from_record
from streams.config import CAMERA_ID_PATTERN, CameraConfig, DecodeMode
from streams.picture.mp4 import VideoError
from streams.zones import CameraZones, Zone

router = APIRouter(prefix="/v1/cameras", tags=["cameras"], responses=responses(401, 403, 404))
CameraId = Annotated[str, Path(pattern=CAMERA_ID_PATTERN)]


class CameraOut(BaseModel):
    id: str
    url: str = Field(description="The camera URL with any password masked.")
    name: str
    enabled: bool
    fps: float | None
    max_pixels: int | None
    jpeg_quality: int | None
    retention_s: float | None
    decode: DecodeMode | None
    zones: list[Zone]
    masks: list[Zone]


class CameraPatch(BaseModel):
    """Fields to change; an absent field keeps its value (the URL and its password too)."""

    model_config = ConfigDict(extra="forbid")

    url: SecretStr | None = None
    name: str | None = None
    enabled: bool | None = None
    fps: Annotated[float | None, Field(gt=0, le=30)] = None
    max_pixels: Annotated[int | None, Field(ge=28 * 28 * 4)] = None
    jpeg_quality: Annotated[int | None, Field(ge=30, le=100)] = None
    retention_s: Annotated[float | None, Field(gt=0)] = None
    decode: DecodeMode | None = None


def camera_out(camera: CameraConfig) -> CameraOut:
    fields = camera.model_dump(exclude={"url"})
    return CameraOut(url=public_url(camera), **fields)


async def _camera(state: State, camera_id: str) -> CameraConfig:
    camera = await CameraStore(state.client, state.keys).get(camera_id)
    if camera is None:
        raise HTTPException(404, f"no camera {camera_id}")
    return camera


@router.get("")
async def list_cameras(state: State, _: ReadKey) -> list[CameraOut]:
    return [camera_out(camera) for camera in await CameraStore(state.client, state.keys).all()]


@router.post("", status_code=201, responses=responses(409, 422))
async def create_camera(state: State, _: AdminKey, camera: CameraConfig) -> CameraOut:
    if not await CameraStore(state.client, state.keys).add(camera):
        raise HTTPException(409, f"camera {camera.id} exists")
    return camera_out(camera)


@router.get("/{camera_id}", responses=responses(422))
async def get_camera(state: State, _: ReadKey, camera_id: CameraId) -> CameraOut:
    return camera_out(await _camera(state, camera_id))


@router.patch("/{camera_id}", responses=responses(422))
async def update_camera(
    state: State, _: AdminKey, camera_id: CameraId, patch: CameraPatch
) -> CameraOut:
    camera = await _camera(state, camera_id)
    changes = patch.model_dump(exclude_unset=True, exclude={"url"})
    if patch.url is not None:
        changes["url"] = patch.url
    try:
        updated = CameraConfig.model_validate({**dict(camera), **changes})
    except ValidationError as error:
        raise HTTPException(422, _first_message(error)) from None
    await CameraStore(state.client, state.keys).put(updated)
    return camera_out(updated)


@router.delete("/{camera_id}", status_code=204, responses=responses(422))
async def delete_camera(state: State, _: AdminKey, camera_id: CameraId) -> Response:
    if not await CameraStore(state.client, state.keys).delete(camera_id):
        raise HTTPException(404, f"no camera {camera_id}")
    return Response(status_code=204)


@router.get("/{camera_id}/zones", responses=responses(422))
async def get_zones(state: State, _: ReadKey, camera_id: CameraId) -> CameraZones:
    return (await _camera(state, camera_id)).zone_set()


@router.put("/{camera_id}/zones", responses=responses(422))
async def replace_zones(
    state: State, _: AdminKey, camera_id: CameraId, zones: CameraZones
) -> CameraZones:
    """Replaces the camera's zones and masks; rules naming a zone it no longer has are
    not asked about this camera until it has one of theirs again."""
    camera = await _camera(state, camera_id)
    updated = camera.model_copy(update={"zones": zones.zones, "masks": zones.masks})
    await CameraStore(state.client, state.keys).put(updated)
    return updated.zone_set()


@router.get("/{camera_id}/health", responses=responses(422))
async def camera_health(state: State, _: ReadKey, camera_id: CameraId) -> dict[str, str]:
    await _camera(state, camera_id)
    raw = cast(dict[bytes, bytes], await state.client.hgetall(state.keys.health(camera_id)))
    return health_from_record(camera_id, raw, time.time())


@router.get(
    "/{camera_id}/latest.jpg",
    response_class=Response,
    responses={**responses(422), 200: {"content": {"image/jpeg": {}}}},
)
async def latest_jpeg(state: State, _: ReadKey, camera_id: CameraId) -> Response:
    record = await latest_frame_async(state.client, state.keys, camera_id)
    if record is None:
        raise HTTPException(404, f"no frame of camera {camera_id} in the buffer")
    headers = {"X-Capture-Time": f"{record.ts:.3f}", "Cache-Control": "no-store"}
    return Response(record.jpeg, media_type="image/jpeg", headers=headers)


@router.get(
    "/{camera_id}/clip.mp4",
    response_class=Response,
    responses={**responses(422, 429), 200: {"content": {"video/mp4": {}}}},
)
async def clip_mp4(
    state: State,
    _: ReadKey,
    limits: Limits,
    camera_id: CameraId,
    start: Annotated[float, Query(ge=0, le=1e11, description="Epoch seconds.")],
    end: Annotated[float, Query(ge=0, le=1e11, description="Epoch seconds, after start.")],
) -> Response:
    """The buffered frames from ``start`` to ``end`` as an H.264 MP4: at most
    ``api.clip_max_s`` long (422 beyond), ``api.encodes_max`` encodes at once (429)."""
    if not 0.001 <= end - start <= state.api.clip_max_s:
        limit = state.api.clip_max_s
        raise HTTPException(422, f"end must be after start and at most {limit:g} s later")
    pages = buffered_pages(state.client, state.keys, camera_id, start, end)
    try:
        video = await encode_clip(limits, pages)
    except VideoError as error:
        raise HTTPException(404, str(error)) from None
    if video is None:
        raise HTTPException(404, f"no frames of camera {camera_id} in that time")
    return Response(video, media_type="video/mp4")


def _first_message(error: ValidationError) -> str:
    item = error.errors(include_input=False, include_url=False)[0]
    where = ".".join(str(part) for part in item["loc"])
    return f"{where}: {item['msg']}" if where else str(item["msg"])
