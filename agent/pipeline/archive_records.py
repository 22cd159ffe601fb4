"""What the pipeline hands the archive for each window: the ``archive`` stream's records.

A worker adds one record per analysed window (its caption and every rule's verdict; when
the model's answer did not parse, each rule asked marked unparsed with the failure and
the start of the raw answer, and no caption) and the scheduler one per window it skipped
as still ("unchanged since" the last analysed window), so the archive's timeline has no
holes. The archiver commits them keyed by ``window_id``: a record added twice (a job
re-run after a worker died) is one row.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

import redis.asyncio as aioredis

from streams.bus.keys import Keys

# Bounds the stream (~100 MB) while no archiver reads it: half an hour of 1,000 cameras'
# windows (125/s), a day of 10 cameras'. Beyond it the oldest records are dropped.
ARCHIVE_MAX_LEN = 250_000
# What an unparsed verdict keeps of the failure and of the model's raw answer (the whole
# answer is on the ``verdict-failures`` stream while it lasts).
FAILURE_MAX_CHARS = 200
RAW_MAX_CHARS = 500


class VerdictStatus(StrEnum):
    ANSWERED = "answered"
    UNPARSED = "unparsed"  # the model's answer did not parse: nothing is claimed


@dataclass(frozen=True, slots=True)
class RuleVerdict:
    rule_id: str
    detected: bool
    confidence: float
    description: str  # unparsed: why, and how the raw answer began
    status: VerdictStatus = VerdictStatus.ANSWERED

    def to_json(self) -> dict[str, object]:
        return {
            "rule": self.rule_id,
            "detected": self.detected,
            "confidence": self.confidence,
            "description": self.description,
            "status": self.status.value,
        }

    @classmethod
    def from_json(cls, raw: dict[str, object]) -> RuleVerdict:
        """Raises ValueError for a verdict that is not one of these (records from before
        the status was kept are answered ones)."""
        confidence = raw["confidence"]
        if not isinstance(confidence, int | float):
            raise ValueError(f"confidence is not a number: {confidence!r}")
        status = VerdictStatus(str(raw.get("status", VerdictStatus.ANSWERED)))
        return cls(
            str(raw["rule"]),
            raw["detected"] is True,
            float(confidence),
            str(raw["description"]),
            status,
        )


def unparsed_verdicts(rule_ids: Iterable[str], failure: str, raw: str) -> tuple[RuleVerdict, ...]:
    """Each rule asked, marked unparsed: not detected, no confidence, and a bounded note
    of why and of how the raw answer began."""
    note = f"The model's answer did not parse ({failure[:FAILURE_MAX_CHARS]})."
    if raw.strip():
        note += f" It began: {raw.strip()[:RAW_MAX_CHARS]}"
    return tuple(
        RuleVerdict(rule_id, False, 0.0, note, VerdictStatus.UNPARSED) for rule_id in rule_ids
    )


@dataclass(frozen=True, slots=True)
class WindowRecord:
    camera_id: str
    start_ms: int
    end_ms: int
    caption: str  # what the model saw; "" when the window was skipped as still or unparsed
    verdicts: tuple[RuleVerdict, ...]  # empty when skipped
    unchanged_since: str | None  # skipped as still: the window id last analysed
    thumbnail_ms: int | None  # capture time of the frame buffered for the thumbnail

    @property
    def window_id(self) -> str:
        """The window job's id: ``{camera}:{start_ms}``."""
        return f"{self.camera_id}:{self.start_ms}"

    @property
    def unparsed(self) -> bool:
        """Analysed, but the model's answer did not parse."""
        return any(verdict.status is VerdictStatus.UNPARSED for verdict in self.verdicts)

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
