"""Pure logic of the pipeline: windows, gating, the alert state machine, rules."""

from __future__ import annotations

from dataclasses import replace

import pytest
from pydantic import ValidationError

from agent.pipeline.alert_state import (
    EventType,
    Phase,
    Policy,
    Track,
    WindowResult,
    alert_id_for,
    step,
)
from agent.pipeline.rules import Rule, rules_for
from agent.pipeline.scheduler import Plan, plan_window
from agent.pipeline.settings import PipelineSettings
from agent.pipeline.windows import Gate, WindowGrid, gate

POLICY = Policy(threshold=0.5, consecutive=2, close_after_ms=4000, cooldown_ms=10_000)


def result(start_s: int, detected: bool, confidence: float = 0.9) -> WindowResult:
    return WindowResult(start_s * 1000, (start_s + 2) * 1000, detected, confidence, "x")


def run(windows: list[WindowResult], track: Track | None = None) -> tuple[Track, list[EventType]]:
    track = track or Track()
    events = []
    for window in windows:
        track, transition = step(track, window, POLICY, "cam", "rule")
        if transition:
            events.append(transition.event)
    return track, events


def test_grid_cuts_complete_windows_on_the_stride() -> None:
    grid = WindowGrid(size_ms=8000, stride_ms=4000)
    assert grid.first_start_at_or_after(10_001) == 12_000
    windows = grid.closed_windows("cam", 12_000, newest_ms=24_000)
    assert [(w.start_ms, w.end_ms) for w in windows] == [(12_000, 20_000), (16_000, 24_000)]
    assert windows[0].job_id == "cam:12000"
    assert grid.closed_windows("cam", 12_000, newest_ms=19_999) == []


def test_gate_runs_motion_heartbeat_and_forced_windows() -> None:
    assert gate(0.3, 0.02, 1, 60, forced=False) is Gate.MOTION
    assert gate(0.0, 0.02, 61, 60, forced=False) is Gate.HEARTBEAT
    assert gate(0.0, 0.02, 1, 60, forced=True) is Gate.ALWAYS
    assert gate(0.01, 0.02, 1, 60, forced=False) is Gate.STILL


def test_plan_asks_only_ungated_rules_of_a_still_window() -> None:
    grid = WindowGrid(8000, 8000)
    gated = Rule(id="a", question="Is a person there?")
    ungated = Rule(id="b", question="Is the door open?", motion_gated=False)
    still = [(i * 250, 0.0) for i in range(32)]
    settings = PipelineSettings()
    window = grid.window("cam", 0)
    assert plan_window(window, still, [gated], False, 10, settings) == Plan(Gate.STILL, ())
    assert plan_window(window, still, [gated, ungated], False, 10, settings) == Plan(
        Gate.ALWAYS, ("b",)
    )
    assert plan_window(window, still, [gated], True, 10, settings).rule_ids == ("a",)
    moving = [*still[:-1], (7750, 0.4)]
    assert plan_window(window, moving, [gated, ungated], False, 10, settings).gate is Gate.MOTION


def test_alert_opens_after_consecutive_hits_and_closes_after_inactivity() -> None:
    track, events = run([result(0, True), result(2, True), result(4, True)])
    assert events == [EventType.OPENED, EventType.UPDATED]
    assert track.phase is Phase.OPEN
    assert track.alert_id == alert_id_for("cam", "rule", 2000)
    track, events = run([result(6, False)], track)  # 6-8 s: 2 s since last positive (6 s)
    assert events == []
    track, events = run([result(8, False)], track)  # ends at 10 s: 4 s without a positive
    assert events == [EventType.CLOSED]
    assert track.phase is Phase.IDLE


def test_low_confidence_or_a_gap_resets_the_count() -> None:
    _, events = run([result(0, True), result(2, True, 0.3), result(4, True)])
    assert events == []
    _, events = run([result(0, True), result(2, False), result(4, True)])
    assert events == []


def test_cooldown_keeps_a_new_alert_from_opening_at_once() -> None:
    track, _ = run([result(0, True), result(2, True), result(4, False), result(6, False)])
    assert track.phase is Phase.IDLE
    assert track.cooldown_until_ms == 18_000
    track, events = run([result(8, True), result(10, True), result(12, True)], track)
    assert events == []
    _, events = run([result(18, True)], track)
    assert events == [EventType.OPENED]


def test_replayed_and_out_of_order_windows_change_nothing() -> None:
    track, _ = run([result(0, True), result(2, True)])
    again, events = run([result(2, True), result(0, True)], track)
    assert (again, events) == (track, [])


def test_alert_ids_are_deterministic() -> None:
    assert alert_id_for("cam", "r", 1) == alert_id_for("cam", "r", 1)
    assert alert_id_for("cam", "r", 1) != alert_id_for("cam", "r", 2)
    assert replace(Track(), hits=1) != Track()


def test_rules_validate_and_select_by_camera_and_hours() -> None:
    night = Rule(
        id="night",
        question="Is anyone in the yard?",
        cameras=["yard"],
        active_hours=["22:00-06:00"],
    )
    always = Rule(id="lane", question="Is a person in the forklift lane?")
    off = Rule(id="off", question="Is it raining?", enabled=False)
    midnight, noon = 1_700_006_400.0, 1_700_049_600.0  # 00:00 and 12:00 UTC
    assert rules_for([night, always, off], "yard", midnight) == [night, always]
    assert rules_for([night, always, off], "yard", noon) == [always]
    assert rules_for([night, always, off], "dock", midnight) == [always]
    with pytest.raises(ValidationError, match="hour must be in"):
        Rule(id="x", question="Is it?", active_hours=["25:00-26:00"])
    with pytest.raises(ValidationError):
        Rule(id="bad id", question="Is it?")
