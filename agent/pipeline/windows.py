"""Clip windows: fixed-size time ranges on a stride grid, and their gating. Pure logic."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class Window:
    camera_id: str
    start_ms: int
    end_ms: int

    @property
    def job_id(self) -> str:
        """Deterministic: scheduling the same window twice yields the same job."""
        return f"{self.camera_id}:{self.start_ms}"

    @property
    def start_s(self) -> float:
        return self.start_ms / 1000

    @property
    def end_s(self) -> float:
        return self.end_ms / 1000


@dataclass(frozen=True, slots=True)
class WindowGrid:
    size_ms: int
    stride_ms: int

    def first_start_at_or_after(self, ts_ms: int) -> int:
        return -(-ts_ms // self.stride_ms) * self.stride_ms

    def window(self, camera_id: str, start_ms: int) -> Window:
        return Window(camera_id, start_ms, start_ms + self.size_ms)


class Attention(StrEnum):
    """What the camera's alert tracks ask of its next window."""

    NONE = "none"  # nothing developing: the window may be skipped when still
    PENDING = "pending"  # a positive streak awaits confirmation: analyse it
    OPEN = "open"  # an alert is open: analyse it


class Gate(StrEnum):
    MOTION = "motion"  # enough motion inside the window: run
    CHANGE = "change"  # enough change since the last analysed window: run
    HEARTBEAT = "heartbeat"  # still, but due for a periodic look: run
    PENDING = "pending"  # a positive streak awaits confirmation: run
    OPEN = "open"  # an alert is open: run
    ALWAYS = "always"  # a rule opted out of gating: run (those rules only)
    STILL = "still"  # skip


@dataclass(frozen=True, slots=True)
class Activity:
    """What the gate knows of one window."""

    max_motion: float  # largest frame-to-frame motion inside the window
    change: float  # share changed since the last analysed window's last frame
    since_last_run_s: float


def gate(activity: Activity, attention: Attention, threshold: float, heartbeat_s: float) -> Gate:
    if attention is Attention.OPEN:
        return Gate.OPEN
    if attention is Attention.PENDING:
        return Gate.PENDING
    if activity.max_motion >= threshold:
        return Gate.MOTION
    if activity.change >= threshold:
        return Gate.CHANGE
    if activity.since_last_run_s >= heartbeat_s:
        return Gate.HEARTBEAT
    return Gate.STILL
