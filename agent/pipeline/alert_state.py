"""The alert state machine of one (camera, rule): windows in, alert events out. Pure logic.

An alert opens after ``consecutive`` positive windows (confidence at or above the rule's
threshold), is updated by each further positive window, and closes once no positive
window has been seen for ``close_after_s``; a cooldown then keeps the next one from
opening at once. Windows are applied in time order only: one older than the last applied
(a replay, a redelivery, a late worker) changes nothing, so one incident is one alert.

Only analysed windows reach a track: a window skipped as still is not a negative, so it
neither breaks nor extends a streak. While idle, the track keeps the streak's positive
windows: the alert that opens is stamped with the streak's onset (its earliest evidence)
and lists every one of them. While open, the track keeps that onset and when the event was
last seen: the end of the latest positive window's evidence, which only ever moves forward.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from enum import StrEnum


class Phase(StrEnum):
    IDLE = "idle"
    OPEN = "open"


class EventType(StrEnum):
    OPENED = "alert.opened"
    UPDATED = "alert.updated"
    CLOSED = "alert.closed"
    SUMMARIZED = "alert.summarized"
    FEEDBACK = "alert.feedback"  # a person confirmed or dismissed the alert
    REPORT_READY = "report.ready"  # not an alert's: a report was made (agent.reports)


@dataclass(frozen=True, slots=True)
class Policy:
    threshold: float
    consecutive: int
    close_after_ms: int
    cooldown_ms: int


@dataclass(frozen=True, slots=True)
class WindowResult:
    """What the model said about one rule in one window."""

    start_ms: int
    end_ms: int
    detected: bool
    confidence: float
    description: str
    evidence_start_ms: int | None = None
    evidence_end_ms: int | None = None

    def positive(self, policy: Policy) -> bool:
        return self.detected and self.confidence >= policy.threshold

    @property
    def onset_ms(self) -> int:
        """Where the window's evidence starts; the window's start when it gave none."""
        return self.start_ms if self.evidence_start_ms is None else self.evidence_start_ms

    @property
    def seen_until_ms(self) -> int:
        """Where the window's evidence ends; the window's end when it gave none."""
        return self.end_ms if self.evidence_end_ms is None else self.evidence_end_ms


STREAK_MAX_WINDOWS = 16  # positive windows a pending streak remembers (the newest ones)


@dataclass(frozen=True, slots=True)
class Track:
    phase: Phase = Phase.IDLE
    hits: int = 0
    alert_id: str = ""
    last_window_ms: int = -1  # start of the last window applied
    last_positive_ms: int = 0  # end of the last positive window
    cooldown_until_ms: int = 0
    onset_ms: int = 0  # earliest evidence of the pending streak or open alert (0: none)
    streak: tuple[WindowResult, ...] = ()  # the pending streak's positive windows
    last_seen_ms: int = 0  # open: end of the latest positive window's evidence (0: unknown)

    @property
    def pending(self) -> bool:
        """A positive streak that has not opened an alert (yet)."""
        return self.phase is Phase.IDLE and self.hits > 0


@dataclass(frozen=True, slots=True)
class Transition:
    event: EventType
    alert_id: str
    result: WindowResult
    streak: tuple[WindowResult, ...] = ()  # on opening: every positive window, oldest first
    onset_ms: int | None = None  # the alert's onset, its streak's earliest evidence (None: unknown)
    positives: int = 1  # on opening: positive windows of the streak (``streak`` keeps the newest)
    last_seen_ms: int | None = None  # end of the latest positive window's evidence (None: unknown)


def alert_id_for(camera_id: str, rule_id: str, window_start_ms: int) -> str:
    digest = hashlib.sha256(f"{camera_id}\0{rule_id}\0{window_start_ms}".encode()).hexdigest()
    return f"al_{digest[:20]}"


def step(
    track: Track, result: WindowResult, policy: Policy, camera_id: str, rule_id: str
) -> tuple[Track, Transition | None]:
    """The track after one window, and the event it causes (if any)."""
    if result.start_ms <= track.last_window_ms:
        return track, None
    track = replace(track, last_window_ms=result.start_ms)
    if track.phase is Phase.OPEN:
        return _while_open(track, result, policy)
    return _while_idle(track, result, policy, camera_id, rule_id)


def _while_idle(
    track: Track, result: WindowResult, policy: Policy, camera_id: str, rule_id: str
) -> tuple[Track, Transition | None]:
    if not result.positive(policy):
        return replace(track, hits=0, onset_ms=0, streak=()), None
    hits = track.hits + 1
    onset_ms = result.onset_ms if track.hits == 0 else min(track.onset_ms, result.onset_ms)
    streak = (*track.streak, result)[-STREAK_MAX_WINDOWS:]
    if hits < policy.consecutive or result.start_ms < track.cooldown_until_ms:
        return replace(track, hits=hits, onset_ms=onset_ms, streak=streak), None
    alert_id = alert_id_for(camera_id, rule_id, result.start_ms)
    last_seen_ms = max(result.seen_until_ms, onset_ms)  # where the opening evidence ends
    opened = Track(
        Phase.OPEN, hits, alert_id, result.start_ms, result.end_ms,
        onset_ms=onset_ms, last_seen_ms=last_seen_ms,
    )  # fmt: skip
    return opened, Transition(
        EventType.OPENED, alert_id, result, streak, onset_ms, hits, last_seen_ms
    )


def _while_open(
    track: Track, result: WindowResult, policy: Policy
) -> tuple[Track, Transition | None]:
    if result.positive(policy):
        last_seen_ms = max(track.last_seen_ms, result.seen_until_ms)  # never backwards
        updated = replace(
            track, hits=track.hits + 1, last_positive_ms=result.end_ms, last_seen_ms=last_seen_ms
        )
        return updated, _open_transition(EventType.UPDATED, updated, result)
    if result.end_ms - track.last_positive_ms < policy.close_after_ms:
        return track, None
    closed = Track(
        phase=Phase.IDLE,
        last_window_ms=track.last_window_ms,
        cooldown_until_ms=result.end_ms + policy.cooldown_ms,
    )
    return closed, _open_transition(EventType.CLOSED, track, result)


def _open_transition(event: EventType, track: Track, result: WindowResult) -> Transition:
    """An open alert's update or closing, with its onset and when it was last seen as far
    as the track knows them (an alert opened before tracks kept them has neither)."""
    return Transition(
        event, track.alert_id, result,
        onset_ms=track.onset_ms or None, last_seen_ms=track.last_seen_ms or None,
    )  # fmt: skip
