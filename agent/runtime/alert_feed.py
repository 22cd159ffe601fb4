"""Alert events as one line each, for people watching ``vigil up`` in a terminal."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import cast

import redis.asyncio as aioredis

from streams.bus.keys import Keys

READ_BLOCK_MS = 1000
TEXT_MAX_CHARS = 200  # of the model's text on one line: a noisy model cannot flood it


def describe(payload: dict[str, object]) -> str:
    kind = str(payload.get("type", "")).removeprefix("alert.").upper()
    where = f"{payload.get('camera')} · {payload.get('rule')}"
    head = f"ALERT {kind:<10} [{payload.get('severity', '')}] {where}"
    window = payload.get("window")
    if isinstance(window, dict):
        at = _clock(float(window["end"]))
        if isinstance(payload.get("onset"), float | int):
            at = f"{at} (onset {_clock(float(cast(float, payload['onset'])))})"
        confidence = float(cast(float, payload.get("confidence", 0.0)))
        text = readable(str(payload.get("description", "")))
        return f"{head} at {at}: {text} (confidence {confidence:.2f})"
    if payload.get("summary_failure"):
        return f"{head}: summary failed: {readable(str(payload['summary_failure']))}"
    return f"{head}: {readable(str(payload.get('summary_placed') or payload.get('summary', '')))}"


def readable(text: str) -> str:
    """Printable characters on one line, at most ``TEXT_MAX_CHARS`` of them."""
    flat = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return flat if len(flat) <= TEXT_MAX_CHARS else flat[: TEXT_MAX_CHARS - 1] + "…"


def _clock(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, tz=UTC).strftime("%H:%M:%SZ")


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
