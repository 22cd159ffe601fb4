"""/v1/mqtt: the MQTT publisher's connection as it last recorded it (read-only). A
connected publisher records it again every ``status_poll_s``; one that stopped doing so
(its process gone without a clean stop) is reported ``stale``; a connected one whose
command listener died (and is being restarted) is reported ``degraded``, with why."""

from __future__ import annotations

import time
from typing import cast

from fastapi import APIRouter
from pydantic import BaseModel

from agent.api.deps import ReadKey, State
from agent.api.errors import responses

router = APIRouter(prefix="/v1/mqtt", tags=["mqtt"], responses=responses(401, 403))


STALE_AFTER_BEATS = 3  # heartbeats missed before a connected publisher is called stale
STALE_GRACE_S = 5.0


class MqttStatus(BaseModel):
    state: str  # connected, degraded, disconnected, stale, or unknown when none has reported
    broker: str | None = None
    last_error: str | None = None
    at: float | None = None  # when the publisher recorded the state
    every_s: float | None = None  # how often a connected publisher records it again


@router.get("")
async def mqtt_status(state: State, _: ReadKey) -> MqttStatus:
    raw = cast(dict[bytes, bytes], await state.client.hgetall(state.keys.mqtt_health))
    fields = {key.decode(): value.decode() for key, value in raw.items()}
    status = MqttStatus.model_validate({"state": "unknown", **fields})
    return _with_listener(_with_staleness(status, time.time()), fields)


def _with_listener(status: MqttStatus, fields: dict[str, str]) -> MqttStatus:
    """``status``, or ``degraded`` when connected but the command listener is down."""
    if status.state != "connected" or fields.get("listener") != "down":
        return status
    why = f"the command listener died and is restarting: {fields.get('listener_error', '')}"
    return status.model_copy(update={"state": "degraded", "last_error": why})


def _with_staleness(status: MqttStatus, now_s: float) -> MqttStatus:
    """``status``, or ``stale`` when it says connected but the heartbeats stopped."""
    if status.state != "connected" or status.at is None or status.every_s is None:
        return status
    silent_s = now_s - status.at
    if silent_s <= STALE_AFTER_BEATS * status.every_s + STALE_GRACE_S:
        return status
    why = (
        f"the MQTT publisher last reported {silent_s:.0f} s ago, connected: "
        "is `vigil mqtt` (or `vigil up` with an mqtt section) still running?"
    )
    return status.model_copy(update={"state": "stale", "last_error": why})
