"""What the pipeline hands the archive for each window: the ``archive`` stream's records.

A worker adds one record per analysed window (its caption and every rule's verdict) and
the scheduler one per window it skipped as still ("unchanged since" the last analysed
window), so the archive's timeline has no holes. The archiver commits them keyed by
``window_id``: a record added twice (a job re-run after a worker died) is one row.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import redis.asyncio as aioredis

from streams.bus.keys import Keys

# Bounds the stream (~100 MB) while no archiver reads it: half an hour of 1,000 cameras'
# windows (125/s), a day of 10 cameras'. Beyond it the oldest records are dropped.
ARCHIVE_MAX_LEN = 250_000


@dataclass(frozen=True, slots=True)
class RuleVerdict:
    rule_id: str
    detected: bool
    confidence: float
    description: str

    def to_json(self) -> dict[str, object]:
        return {
            "rule": self.rule_id,
            "detected": self.detected,
            "confidence": self.confidence,
            "description": self.description,
        }

    @classmethod
    def from_json(cls, raw: dict[str, object]) -> RuleVerdict:
        confidence = raw["confidence"]
        if not isinstance(confidence, int | float):
            raise ValueError(f"confidence is not a number: {confidence!r}")
        return cls(
            str(raw["rule"]), raw["detected"] is True, float(confidence), str(raw["description"])
        )


@dataclass(frozen=True, slots=True)
class WindowRecord:
    camera_id: str
    start_ms: int
    end_ms: int
    caption: str  # what the model saw; "" when the window was skipped as still
    verdicts: tuple[RuleVerdict, ...]  # empty when skipped
    unchanged_since: str | None  # skipped as still: the window id last analysed
    thumbnail_ms: int | None  # capture time of the frame buffered for the thumbnail

    @property
    def window_id(self) -> str:
        """The window job's id: ``{camera}:{start_ms}``."""
        return f"{self.camera_id}:{self.start_ms}"

    def fields(self) -> dict[str, str]:
        return {
            "window": self.window_id,
            "camera": self.camera_id,
            "start_ms": str(self.start_ms),
            "end_ms": str(self.end_ms),
            "caption": self.caption,
            "verdicts": json.dumps([verdict.to_json() for verdict in self.verdicts]),
            "unchanged_since": self.unchanged_since or "",
            "thumbnail_ms": "" if self.thumbnail_ms is None else str(self.thumbnail_ms),
        }

    @classmethod
    def from_fields(cls, fields: dict[bytes, bytes]) -> WindowRecord:
        """Raises ValueError (or KeyError) for a record that is not one of these."""
        text = {key.decode(): value.decode() for key, value in fields.items()}
        verdicts = json.loads(text["verdicts"])
        if not isinstance(verdicts, list):
            raise ValueError("verdicts is not a list")
        thumbnail = text.get("thumbnail_ms", "")
        return cls(
            camera_id=text["camera"],
            start_ms=int(text["start_ms"]),
            end_ms=int(text["end_ms"]),
            caption=text["caption"],
            verdicts=tuple(RuleVerdict.from_json(verdict) for verdict in verdicts),
            unchanged_since=text.get("unchanged_since") or None,
            thumbnail_ms=int(thumbnail) if thumbnail else None,
        )


async def add_window(client: aioredis.Redis, keys: Keys, record: WindowRecord) -> None:
    await client.xadd(
        keys.archive,
        record.fields(),  # type: ignore[arg-type]
        maxlen=ARCHIVE_MAX_LEN,
        approximate=True,
    )
