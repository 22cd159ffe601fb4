"""The rolling frame buffer in Redis: one stream per camera, entry id = capture time (ms)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import redis
import redis.asyncio as aioredis

from streams.bus.keys import Keys


@dataclass(frozen=True, slots=True)
class FrameRecord:
    camera_id: str
    ts: float  # capture time, epoch seconds
    seq: int  # per-camera sample counter; parity decides the strip's text position
    motion: float
    width: int  # stamped frame size, strip included
    height: int
    jpeg: bytes
    changes: bytes = b""  # the packed change map of the motion score; kept in motion only

    @property
    def ts_ms(self) -> int:
        return round(self.ts * 1000)

    @property
    def entry_id(self) -> str:
        return f"{self.ts_ms}-0"

    def fields(self) -> dict[str, bytes | str]:
        return {
            "jpeg": self.jpeg,
            "ts": f"{self.ts:.3f}",
            "seq": str(self.seq),
            "motion": f"{self.motion:.4f}",
            "w": str(self.width),
            "h": str(self.height),
        }

    @classmethod
    def from_entry(cls, camera_id: str, fields: dict[bytes, bytes]) -> FrameRecord:
        return cls(
            camera_id=camera_id,
            ts=float(fields[b"ts"]),
            seq=int(fields[b"seq"]),
            motion=float(fields[b"motion"]),
            width=int(fields[b"w"]),
            height=int(fields[b"h"]),
            jpeg=fields[b"jpeg"],
        )


COMMANDS_PER_FRAME = 2  # append_frame queues the frame, then its motion entry


def append_frame(pipe: Any, keys: Keys, record: FrameRecord, retention_s: float) -> None:
    """Queues the XADDs of one frame on a pipeline, trimming what is older than retention.

    The frame goes to ``frames:{cam}``; its time and motion alone go to ``motion:{cam}``
    under the same id, so the scheduler can cut windows and score zones without moving
    JPEGs.
    """
    minid = str(record.ts_ms - int(retention_s * 1000))
    pipe.xadd(
        keys.frames(record.camera_id),
        record.fields(),
        id=record.entry_id,
        minid=minid,
        approximate=True,
    )
    pipe.xadd(
        keys.motion(record.camera_id),
        motion_fields(record),
        id=record.entry_id,
        minid=minid,
        approximate=True,
    )


def motion_fields(record: FrameRecord) -> dict[str, bytes | str]:
    """The motion entry: the score, and where in the picture it changed (when known)."""
    fields: dict[str, bytes | str] = {"motion": f"{record.motion:.4f}"}
    if record.changes:
        fields["changes"] = record.changes
    return fields


def read_frames(
    client: redis.Redis, keys: Keys, camera_id: str, start_s: float, end_s: float
) -> list[FrameRecord]:
    """Frames captured in [start_s, end_s), oldest first."""
    reply = client.xrange(keys.frames(camera_id), *_id_range(start_s, end_s))
    return [FrameRecord.from_entry(camera_id, fields) for _, fields in _entries(reply)]


async def read_frames_async(
    client: aioredis.Redis, keys: Keys, camera_id: str, start_s: float, end_s: float
) -> list[FrameRecord]:
    """``read_frames`` for asyncio callers."""
    reply = await client.xrange(keys.frames(camera_id), *_id_range(start_s, end_s))
    return [FrameRecord.from_entry(camera_id, fields) for _, fields in _entries(reply)]


def _id_range(start_s: float, end_s: float) -> tuple[str, str]:
    return str(round(start_s * 1000)), str(round(end_s * 1000) - 1)


async def latest_frame_async(
    client: aioredis.Redis, keys: Keys, camera_id: str, before_s: float | None = None
) -> FrameRecord | None:
    """The newest stored frame of the camera (captured before ``before_s``), if any."""
    newest = "+" if before_s is None else str(round(before_s * 1000) - 1)
    reply = await client.xrevrange(keys.frames(camera_id), max=newest, count=1)
    entries = _entries(reply)
    if not entries:
        return None
    return FrameRecord.from_entry(camera_id, entries[0][1])


def last_capture_s(client: redis.Redis, keys: Keys, camera_id: str) -> float:
    """Capture time of the newest stored frame (0 when none): the floor for new ones."""
    entries = _entries(client.xrevrange(keys.frames(camera_id), count=1))
    if not entries:
        return 0.0
    return int(entries[0][0].split(b"-")[0]) / 1000.0


def _entries(reply: object) -> list[tuple[bytes, dict[bytes, bytes]]]:
    """Stream entries as a client without response decoding returns them."""
    return cast(list[tuple[bytes, dict[bytes, bytes]]], reply or [])
