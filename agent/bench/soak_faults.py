"""The soak's faults: a fixed schedule for a 30-minute run, scaled to the run's length.

The schedule is data (``schedule``): when each fault starts, what it hits and how long
it lasts. Every fault's outage window runs from its start to its end plus ``RECOVERY_S``
(windows, confirmations and reclaims take that long to catch up); recall is measured
outside those windows. Hostile API load (``load`` faults) is not an outage: the API
must stay fast under it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FaultKind = Literal["redis", "broker", "store", "engine", "receiver", "poison", "kill", "load"]

TEMPLATE_S = 1800.0  # the schedule below is written for a 30-minute run
MIN_DURATION_S = 5.0
RECOVERY_S = 30.0
OUTAGES = frozenset({"redis", "broker", "store", "engine", "receiver", "kill"})
PROBE_KINDS = frozenset({"load"})  # when /healthz must stay fast


@dataclass(frozen=True, slots=True)
class Fault:
    at_s: float  # seconds after the roles were up
    kind: FaultKind
    target: str  # the engine's misbehaviour, the role killed, "" otherwise
    duration_s: float  # 0 for instant faults (poison, kill)

    @property
    def end_s(self) -> float:
        return self.at_s + self.duration_s

    @property
    def outage(self) -> tuple[float, float] | None:
        """Seconds into the run during which the pipeline may miss events."""
        if self.kind not in OUTAGES:
            return None
        return self.at_s, self.end_s + RECOVERY_S

    def to_json(self) -> dict[str, object]:
        return {
            "at_s": round(self.at_s, 1),
            "kind": self.kind,
            "target": self.target,
            "duration_s": round(self.duration_s, 1),
        }


_KILLS = ("worker", "dispatcher", "mqtt", "archiver", "scheduler", "ingest", "api")
_TEMPLATE: tuple[tuple[float, FaultKind, str, float], ...] = (
    (180.0, "poison", "", 0.0),
    (240.0, "engine", "503", 60.0),
    (300.0, "load", "", 90.0),
    (420.0, "redis", "", 60.0),
    (600.0, "engine", "timeout", 60.0),
    (720.0, "receiver", "", 120.0),
    (900.0, "broker", "", 60.0),
    (960.0, "load", "", 90.0),
    (1020.0, "engine", "garbage", 60.0),
    (1140.0, "store", "", 60.0),
    *((1260.0 + 30.0 * index, "kill", role, 0.0) for index, role in enumerate(_KILLS)),
    (1500.0, "load", "", 120.0),
)


def schedule(minutes: float) -> list[Fault]:
    """The template's faults at the same shares of a run of ``minutes`` (durations too,
    but at least ``MIN_DURATION_S``), in order."""
    scale = minutes * 60.0 / TEMPLATE_S
    faults = [
        Fault(at * scale, kind, target, max(MIN_DURATION_S, length * scale) if length else 0.0)
        for at, kind, target, length in _TEMPLATE
    ]
    return sorted(faults, key=lambda fault: fault.at_s)


def timeline(faults: list[Fault]) -> list[tuple[float, Fault, bool]]:
    """(when, fault, True at its start / False at its end), in order; instant faults and
    load (run by the load process) have only a start."""
    events = [(fault.at_s, fault, True) for fault in faults]
    events += [
        (fault.end_s, fault, False)
        for fault in faults
        if fault.kind in OUTAGES and fault.duration_s
    ]
    return sorted(events, key=lambda event: (event[0], event[2]))


def outage_windows(faults: list[Fault]) -> list[tuple[float, float]]:
    return [window for fault in faults if (window := fault.outage) is not None]


def load_bursts(faults: list[Fault]) -> list[tuple[float, float]]:
    """(start, end) in seconds into the run of every hostile-load burst."""
    return [(fault.at_s, fault.end_s) for fault in faults if fault.kind == "load"]


def overlaps(start: float, end: float, windows: list[tuple[float, float]]) -> bool:
    return any(start < window_end and window_start < end for window_start, window_end in windows)
