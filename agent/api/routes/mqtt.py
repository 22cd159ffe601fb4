"""/v1/mqtt: the MQTT publisher's connection as it last recorded it (read-only)."""

from __future__ import annotations

from typing import cast

from fastapi import APIRouter
from pydantic import BaseModel

from agent.api.deps import ReadKey, State
from agent.api.errors import responses

router = APIRouter(prefix="/v1/mqtt", tags=["mqtt"], responses=responses(401, 403))


class MqttStatus(BaseModel):
    state: str  # connected, disconnected, or unknown when no publisher has reported
    broker: str | None = None
    last_error: str | None = None
    at: float | None = None  # when the publisher recorded the state


@router.get("")
async def mqtt_status(state: State, _: ReadKey) -> MqttStatus:
    raw = cast(dict[bytes, bytes], await state.client.hgetall(state.keys.mqtt_health))
    fields = {key.decode(): value.decode() for key, value in raw.items()}
    return MqttStatus.model_validate({"state": "unknown", **fields})
