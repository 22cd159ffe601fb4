"""Alert events at a fixed rate, written by the real alert book as the pipeline writes them.

Each camera has one rule and its windows cycle positive, positive, negative: the alert
opens, is updated, then closes (it closes after one window without a positive and has
no cooldown), so every window is one event, written with its alert hash, windows,
summary job and the three event streams, and every alert has one event of each type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import redis.asyncio as aioredis

from agent.bench.delivery import paced
from agent.pipeline.alert_book import AlertBook
from agent.pipeline.alert_state import WindowResult
from agent.pipeline.cameras_store import CameraStore
from agent.pipeline.rules import Rule
from agent.pipeline.rules_store import RuleStore
from streams.bus.keys import Keys
from streams.config import CameraConfig

WINDOW_MS = 2000
START_MS = 1_800_000_000_000
CYCLE = (True, True, False)  # opened, updated, closed
RULE = Rule(
    id="bench", question="Is anyone in the loading lane?", consecutive=1,
    close_after_s=WINDOW_MS / 1000, cooldown_s=0.0,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    alert_id: str
    type: str  # alert.opened, alert.updated, alert.closed
    added_s: float  # the XADD's time, from the entry id


def camera_ids(cameras: int) -> list[str]:
    return [f"cam{number:03d}" for number in range(cameras)]


async def seed(client: aioredis.Redis, keys: Keys, cameras: int) -> None:
    """The cameras and the rule, so consumers that read the stores see a real set-up."""
    configs = [
        CameraConfig.model_validate({"id": camera_id, "url": f"rtsp://127.0.0.1/{camera_id}"})
        for camera_id in camera_ids(cameras)
    ]
    await CameraStore(client, keys).seed(configs)
    await RuleStore(client, keys).seed([RULE])


async def write_events(
    client: aioredis.Redis, keys: Keys, rate: float, count: int, cameras: int
) -> float:
    """``count`` events at ``rate`` per second, cameras in turn; returns the start (epoch s)."""
    book = AlertBook(client, keys)
    ids = camera_ids(cameras)

    async def send(number: int) -> None:
        window = number // cameras
        hit = CYCLE[window % len(CYCLE)]
        start_ms = START_MS + window * WINDOW_MS
        result = WindowResult(start_ms, start_ms + WINDOW_MS, hit, 0.9 if hit else 0.1, "bench")
        if await book.apply(ids[number % cameras], RULE, result) is None:
            raise RuntimeError(f"window {window} of camera {number % cameras} caused no event")

    return await paced(rate, count, send)


async def outbox_events(client: aioredis.Redis, keys: Keys) -> list[OutboxEvent]:
    """Every event on the outbox, oldest first."""
    entries = cast(list[tuple[bytes, dict[bytes, bytes]]], await client.xrange(keys.outbox))
    return [
        OutboxEvent(
            fields[b"alert_id"].decode(),
            fields[b"type"].decode(),
            int(entry_id.split(b"-")[0]) / 1000,
        )
        for entry_id, fields in entries
    ]
