"""Alert events as one line each, for people watching ``vigil up`` in a terminal."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import cast

import redis.asyncio as aioredis

from streams.keys import Keys

READ_BLOCK_MS = 1000


def describe(payload: dict[str, object]) -> str:
    kind = str(payload.get("type", "")).removeprefix("alert.").upper()
    where = f"{payload.get('camera')} · {payload.get('rule')}"
    head = f"ALERT {kind:<10} [{payload.get('severity', '')}] {where}"
    window = payload.get("window")
    if isinstance(window, dict):
        at = datetime.fromtimestamp(float(window["end"]), tz=UTC).strftime("%H:%M:%SZ")
        confidence = float(cast(float, payload.get("confidence", 0.0)))
        return f"{head} at {at}: {payload.get('description', '')} (confidence {confidence:.2f})"
    if payload.get("summary_failure"):
        return f"{head}: summary failed: {payload['summary_failure']}"
    return f"{head}: {payload.get('summary_placed') or payload.get('summary', '')}"


async def follow_alerts(
    client: aioredis.Redis, keys: Keys, stop: asyncio.Event, emit: Callable[[str], None]
) -> None:
    """Emits a line for every alert event from now on, until stopped."""
    last_id = "$"
    while not stop.is_set():
        try:
            reply = await client.xread({keys.alerts: last_id}, block=READ_BLOCK_MS)
        except (aioredis.ConnectionError, aioredis.TimeoutError):
            await asyncio.sleep(1.0)
            continue
        for _, entries in cast(list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]], reply):
            for entry_id, fields in entries:
                last_id = entry_id.decode()
                emit(describe(json.loads(fields[b"payload"])))
