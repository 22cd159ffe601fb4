"""Reading the health records that ingest publishes to Redis."""

from __future__ import annotations

from typing import cast

import redis

from streams.bus.keys import Keys

REPORTING_TIMEOUT_S = 15.0  # no update for this long: the ingest process is gone


def read_health(client: redis.Redis, keys: Keys, camera_id: str, now: float) -> dict[str, str]:
    """The camera's health record; state ``unknown`` when no ingest reports it."""
    raw = cast(dict[bytes, bytes], client.hgetall(keys.health(camera_id)))
    return health_from_record(camera_id, raw, now)


def health_from_record(camera_id: str, raw: dict[bytes, bytes], now: float) -> dict[str, str]:
    """``read_health`` on a record already read (by an asyncio client, say)."""
    record = {key.decode(): value.decode() for key, value in raw.items()}
    if not record:
        return {"camera": camera_id, "state": "unknown", "last_error": "no ingest has reported"}
    if now - float(record.get("updated_at", "0")) > REPORTING_TIMEOUT_S:
        record["state"] = "unknown"
        record["last_error"] = "ingest stopped reporting"
    return record
