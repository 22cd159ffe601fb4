"""``vigil cameras``: each camera's health as a table."""

from __future__ import annotations

import time

import redis
from rich.console import Console
from rich.table import Table

from streams.buffer.health_records import read_health
from streams.bus.keys import Keys

COLUMNS = (
    "camera",
    "state",
    "shard",
    "fps in",
    "fps out",
    "dropped",
    "reconnects",
    "last frame",
    "last error",
)


def print_camera_table(client: redis.Redis, keys: Keys, camera_ids: list[str]) -> None:
    table = Table(*COLUMNS)
    now = time.time()
    try:
        records = {camera_id: read_health(client, keys, camera_id, now) for camera_id in camera_ids}
    except (redis.ConnectionError, redis.TimeoutError):
        Console(stderr=True).print("Redis is not reachable: is `vigil ingest` running?")
        raise SystemExit(1) from None
    for camera_id, record in records.items():
        table.add_row(
            camera_id,
            record.get("state", "unknown"),
            record.get("shard") or "-",
            record.get("fps_in", "-"),
            record.get("fps_out", "-"),
            record.get("dropped", "-"),
            record.get("reconnects", "-"),
            _age(record.get("last_frame_ts"), now),
            record.get("last_error", ""),
        )
    Console(width=160).print(table)


def _age(ts: str | None, now: float) -> str:
    if not ts or float(ts) <= 0:
        return "never"
    return f"{now - float(ts):.1f} s ago"
