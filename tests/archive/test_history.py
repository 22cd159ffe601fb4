"""The records a history question is answered from, over a real archive (LanceDB and the
embedding model): which windows the model reads, and the facts counted from every
detection, against the windows the test wrote."""

from __future__ import annotations

from agent.archive.embedder import Embedder
from agent.archive.history import (
    EVIDENCE_WINDOWS,
    AlertFact,
    gather_records,
    rule_facts,
)
from agent.archive.store import ArchiveStore, Detection, WindowFilter
from agent.pipeline.archive_records import WindowRecord
from tests.archive.conftest import T0_MS, WINDOW_MS, add_windows, still_record, window_record

MINUTE_MS = 60_000
QUIET = "Rain falls on an empty parking lot at night."
TRUCK = "A red truck stands in front of the gate, blocking it."
# Minutes after T0 of the truck windows: three separate times, the last one two windows long.
TRUCK_MINUTES = (5, 40, 90, 90.125)


def yard_day() -> list[WindowRecord]:
    """Two hours of gate windows, one a minute: quiet, except the truck."""
    records = []
    for minute in sorted({*range(120), *TRUCK_MINUTES}):
        truck = minute in TRUCK_MINUTES
        start_ms = T0_MS + round(minute * MINUTE_MS)
        caption = TRUCK if truck else QUIET
        records.append(window_record("gate", start_ms, caption, ("vehicle",) if truck else ()))
    return records


async def test_a_long_period_gives_the_windows_about_the_question_and_exact_counts(
    store: ArchiveStore, embedder: Embedder
) -> None:
    await add_windows(store, embedder, yard_day())
    alerts = [AlertFact("al_1", "gate", "vehicle", T0_MS / 1000 + 300)]
    records = await gather_records(
        store, embedder, "When did a truck block the gate?", WindowFilter("gate"), alerts
    )
    truck_starts = [T0_MS + round(minute * MINUTE_MS) for minute in TRUCK_MINUTES]
    assert [window.start_ms for window in records.windows] == truck_starts  # oldest first
    assert {window.caption for window in records.windows} == {TRUCK}
    [fact] = records.facts
    assert (fact.rule_id, fact.camera_id, fact.windows, fact.occurrences, fact.alerts) == (
        "vehicle", "gate", 4, 3, 1,
    )  # fmt: skip
    assert (fact.first_ms, fact.last_ms) == (truck_starts[0], truck_starts[-1] + WINDOW_MS)
    assert fact.last_window_id == records.windows[-1].window_id
    text = records.text({"vehicle": "Is a vehicle blocking the gate?"})
    assert 'rule vehicle ("Is a vehicle blocking the gate?") on camera gate: detected 3 ' in text
    assert "last until 2026-01-01 01:30:15 UTC [w4]." in text
    assert f"[w1] camera gate, 2026-01-01 00:05:00 UTC to 2026-01-01 00:05:08 UTC: {TRUCK}" in text
    assert not records.empty
    assert not records.detections_capped


async def test_a_short_period_gives_every_captioned_window(
    store: ArchiveStore, embedder: Embedder
) -> None:
    await add_windows(store, embedder, yard_day())
    since, until = T0_MS + 30 * MINUTE_MS, T0_MS + 45 * MINUTE_MS
    records = await gather_records(
        store, embedder, "What happened at the gate?", WindowFilter("gate", None, since, until), []
    )
    assert len(records.windows) == 15 <= EVIDENCE_WINDOWS
    assert [window.start_ms for window in records.windows] == sorted(
        window.start_ms for window in records.windows
    )
    assert [fact.windows for fact in records.facts] == [1]  # the truck at minute 40


async def test_a_period_with_nothing_on_the_question_is_empty(
    store: ArchiveStore, embedder: Embedder
) -> None:
    await add_windows(store, embedder, yard_day())
    later = WindowFilter("gate", None, T0_MS + 600 * MINUTE_MS, None)
    assert (await gather_records(store, embedder, "a truck?", later, [])).empty
    other_camera = WindowFilter("dock")
    assert (await gather_records(store, embedder, "a truck?", other_camera, [])).empty


async def test_quiet_windows_far_from_the_question_are_left_out(
    store: ArchiveStore, embedder: Embedder
) -> None:
    quiet = [window_record("gate", T0_MS + i * MINUTE_MS, QUIET) for i in range(60)]
    await add_windows(store, embedder, quiet)
    records = await gather_records(
        store, embedder, "Did a forklift carry pallets?", WindowFilter(), []
    )
    assert records.windows == ()
    assert records.facts == ()
    assert records.empty


def test_citations_are_read_from_the_answer_in_order_and_unknown_tags_ignored() -> None:
    from agent.archive.history import HistoryRecords
    from agent.archive.store import StoredWindow

    windows = tuple(
        StoredWindow(f"gate:{i}", "gate", i, i + 1, "c", None, (), (), (), None) for i in range(3)
    )
    records = HistoryRecords(windows, (), (), False)
    cited = records.cited("It was there [w3], and before [w1] [w3]; not [w9] or [w0].", None)
    assert [window.window_id for window in cited] == ["gate:2", "gate:0"]
    assert records.cited(None, "seen in [w2]") == [windows[1]]


def test_facts_count_runs_per_rule_and_camera_newest_first() -> None:
    def seen(camera: str, start_s: int, *rules: str) -> Detection:
        return Detection(
            f"{camera}:{start_s}", camera, start_s * 1000, start_s * 1000 + 8000, rules
        )

    detections = [
        seen("gate", 0, "vehicle"), seen("gate", 8, "vehicle", "person"),
        seen("gate", 70, "vehicle"),  # 54 s after the last ended: the same time
        seen("gate", 200, "vehicle"),  # 122 s after: another time
        seen("dock", 500, "person"),
    ]  # fmt: skip
    alerts = [AlertFact("al_1", "gate", "vehicle", 1.0), AlertFact("al_2", "gate", "vehicle", 2.0)]
    facts = rule_facts(list(reversed(detections)), alerts)
    summary = [(f.rule_id, f.camera_id, f.windows, f.occurrences, f.alerts) for f in facts]
    assert summary == [
        ("person", "dock", 1, 1, 0), ("vehicle", "gate", 4, 2, 2), ("person", "gate", 1, 1, 0),
    ]  # fmt: skip
    assert facts[1].last_window_id == "gate:200"
    assert facts[1].last_ms == 208_000


async def test_the_last_time_lasts_through_the_still_windows_after_it(
    store: ArchiveStore, embedder: Embedder
) -> None:
    parked = window_record("gate", T0_MS, TRUCK, ("vehicle",))
    still = [still_record("gate", T0_MS + i * WINDOW_MS, parked.window_id) for i in range(1, 30)]
    left = window_record("gate", T0_MS + 30 * WINDOW_MS, QUIET)
    await add_windows(store, embedder, [parked, *still, left])
    records = await gather_records(store, embedder, "a truck?", WindowFilter("gate"), [])
    [fact] = records.facts
    assert (fact.windows, fact.occurrences) == (1, 1)
    assert fact.last_ms == T0_MS + 30 * WINDOW_MS  # the end of the last still window
    assert "last until 2026-01-01 00:04:00 UTC [w1]." in records.text({})
