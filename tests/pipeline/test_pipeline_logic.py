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
from agent.pipeline.scheduler import Plan, attention_of, plan_window
from agent.pipeline.settings import PipelineSettings
from agent.pipeline.windows import Activity, Attention, Gate, WindowGrid, gate

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


def test_grid_starts_on_the_stride_and_names_windows_by_their_start() -> None:
    grid = WindowGrid(size_ms=8000, stride_ms=4000)
    assert grid.first_start_at_or_after(10_001) == 12_000
    window = grid.window("cam", 12_000)
    assert (window.start_ms, window.end_ms, window.job_id) == (12_000, 20_000, "cam:12000")


def activity(motion: float = 0.0, change: float = 0.0, since_s: float = 1.0) -> Activity:
    return Activity(max_motion=motion, change=change, since_last_run_s=since_s)


def test_gate_runs_motion_change_heartbeat_and_attention_windows() -> None:
    none = Attention.NONE
    assert gate(activity(motion=0.3), none, 0.02, 60) is Gate.MOTION
    assert gate(activity(change=0.05), none, 0.02, 60) is Gate.CHANGE
    assert gate(activity(since_s=61), none, 0.02, 60) is Gate.HEARTBEAT
    assert gate(activity(motion=0.01, change=0.01), none, 0.02, 60) is Gate.STILL


def test_a_still_window_is_analysed_while_a_streak_is_pending_or_an_alert_open() -> None:
    still = activity(motion=0.0, change=0.0)
    assert gate(still, Attention.PENDING, 0.02, 60) is Gate.PENDING
    assert gate(still, Attention.OPEN, 0.02, 60) is Gate.OPEN


def test_plan_asks_only_ungated_rules_of_a_still_window() -> None:
    gated = Rule(id="a", question="Is a person there?")
    ungated = Rule(id="b", question="Is the door open?", motion_gated=False)
    settings = PipelineSettings()
    none = Attention.NONE
    still = {"a": activity(), "b": activity()}
    assert plan_window(still, [gated], none, settings) == Plan(Gate.STILL, ())
    assert plan_window(still, [gated, ungated], none, settings) == Plan(Gate.ALWAYS, ("b",))
    assert plan_window(still, [gated], Attention.PENDING, settings).rule_ids == ("a",)
    moving = {"a": activity(motion=0.4), "b": activity(motion=0.4)}
    assert plan_window(moving, [gated, ungated], none, settings) == Plan(Gate.MOTION, ("a", "b"))


def test_each_rule_is_due_on_the_activity_where_it_looks() -> None:
    lane = Rule(id="lane", question="Is a person in the lane?", zones=["lane"])
    door = Rule(id="door", question="Is the fire door blocked?", zones=["door"])
    whole = Rule(id="smoke", question="Is there smoke?")
    settings = PipelineSettings()
    activities = {
        "lane": activity(motion=0.3),
        "door": activity(),
        "smoke": activity(change=0.05),
    }
    rules = [lane, door, whole]
    plan = plan_window(activities, rules, Attention.NONE, settings)
    assert plan == Plan(Gate.MOTION, ("lane", "smoke"))  # one call for the rules due
    heartbeat = {**activities, "lane": activity(), "door": activity(since_s=settings.heartbeat_s)}
    plan = plan_window(heartbeat, rules, Attention.NONE, settings)
    assert plan == Plan(Gate.CHANGE, ("door", "smoke"))
    # A streak pending anywhere on the camera has every rule asked, as ever.
    assert plan_window(heartbeat, rules, Attention.OPEN, settings).rule_ids == (
        "lane", "door", "smoke",
    )  # fmt: skip


def test_attention_comes_from_the_tracks() -> None:
    assert attention_of([]) is Attention.NONE
    assert attention_of([Track(), replace(Track(), hits=1)]) is Attention.PENDING
    opened = replace(Track(), phase=Phase.OPEN, hits=2)
    assert attention_of([replace(Track(), hits=1), opened]) is Attention.OPEN


def evidenced(start_s: int, first_seen_s: float, last_seen_s: float) -> WindowResult:
    return WindowResult(
        start_s * 1000, (start_s + 8) * 1000, True, 0.9, "seen",
        round(first_seen_s * 1000), round(last_seen_s * 1000),
    )  # fmt: skip


def test_an_alert_is_stamped_with_the_onset_of_its_streak() -> None:
    track = Track()
    track, first = step(track, evidenced(0, 5.25, 8.0), POLICY, "cam", "rule")
    assert first is None
    assert track.pending
    assert track.onset_ms == 5250
    track, opened = step(track, evidenced(4, 5.25, 12.0), POLICY, "cam", "rule")
    assert opened is not None
    assert opened.event is EventType.OPENED
    assert opened.onset_ms == 5250
    assert [w.start_ms for w in opened.streak] == [0, 4000]
    assert opened.positives == 2
    assert track.phase is Phase.OPEN
    assert track.streak == ()


def test_last_seen_follows_the_latest_positive_evidence_and_never_goes_back() -> None:
    track, _ = step(Track(), evidenced(100, 101.0, 106.0), POLICY, "cam", "rule")
    track, opened = step(track, evidenced(104, 104.5, 110.0), POLICY, "cam", "rule")
    assert opened is not None
    assert (opened.onset_ms, opened.last_seen_ms) == (101_000, 110_000)
    track, updated = step(track, evidenced(108, 108.0, 115.5), POLICY, "cam", "rule")
    assert updated is not None
    assert (updated.event, updated.onset_ms, updated.last_seen_ms) == (
        EventType.UPDATED, 101_000, 115_500,
    )  # fmt: skip
    # A later window whose evidence ends earlier, and a replay: last seen stays.
    track, earlier = step(track, evidenced(112, 112.0, 113.0), POLICY, "cam", "rule")
    assert earlier is not None
    assert earlier.last_seen_ms == track.last_seen_ms == 115_500
    assert step(track, evidenced(108, 108.0, 125.0), POLICY, "cam", "rule") == (track, None)
    track, _ = step(track, result(120, False), POLICY, "cam", "rule")  # 2 s after the last
    _, closed = step(track, result(122, False), POLICY, "cam", "rule")
    assert closed is not None
    assert (closed.event, closed.onset_ms, closed.last_seen_ms) == (
        EventType.CLOSED, 101_000, 115_500,
    )  # fmt: skip


def test_a_positive_window_without_evidence_is_seen_to_its_end() -> None:
    track, _ = step(Track(), result(100, True), POLICY, "cam", "rule")
    track, _ = step(track, result(102, True), POLICY, "cam", "rule")
    _, updated = step(track, result(104, True), POLICY, "cam", "rule")
    assert updated is not None
    assert (updated.onset_ms, updated.last_seen_ms) == (100_000, 106_000)


def test_an_alert_opened_before_tracks_kept_its_onset_has_no_seen_for() -> None:
    legacy = replace(Track(), phase=Phase.OPEN, hits=2, alert_id="al_1", last_window_ms=1000)
    _, updated = step(legacy, evidenced(100, 100.0, 106.0), POLICY, "cam", "rule")
    assert updated is not None
    assert (updated.onset_ms, updated.last_seen_ms) == (None, 106_000)


def test_a_negative_window_forgets_the_streak_and_its_onset() -> None:
    track, _ = step(Track(), evidenced(0, 5.0, 8.0), POLICY, "cam", "rule")
    track, _ = step(track, result(8, False), POLICY, "cam", "rule")
    assert (track.hits, track.onset_ms, track.streak) == (0, 0, ())
    track, _ = step(track, evidenced(16, 20.0, 24.0), POLICY, "cam", "rule")
    _, opened = step(track, evidenced(20, 20.0, 28.0), POLICY, "cam", "rule")
    assert opened is not None
    assert opened.onset_ms == 20_000


def test_a_window_without_evidence_counts_from_its_start() -> None:
    track, _ = step(Track(), result(6, True), POLICY, "cam", "rule")
    assert track.onset_ms == 6000


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
