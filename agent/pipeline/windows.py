"""Clip windows: fixed-size time ranges on a stride grid, and motion gating. Pure logic."""

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

    def closed_windows(self, camera_id: str, next_start_ms: int, newest_ms: int) -> list[Window]:
        """Windows from ``next_start_ms`` on that a frame at ``newest_ms`` proves complete."""
        windows = []
        start = next_start_ms
        while start + self.size_ms <= newest_ms:
            windows.append(self.window(camera_id, start))
            start += self.stride_ms
        return windows


class Gate(StrEnum):
    MOTION = "motion"  # enough motion: run
    HEARTBEAT = "heartbeat"  # still, but due for a periodic look: run
    ALWAYS = "always"  # a rule opted out of gating, or an alert is open: run
    STILL = "still"  # skip


def gate(
    max_motion: float,
    threshold: float,
    since_last_run_s: float,
    heartbeat_s: float,
    forced: bool,
) -> Gate:
    if forced:
        return Gate.ALWAYS
    if max_motion >= threshold:
        return Gate.MOTION
    if since_last_run_s >= heartbeat_s:
        return Gate.HEARTBEAT
    return Gate.STILL
