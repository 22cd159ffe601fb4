"""Reports over the archive of a run of the bundled footage (tests/eval/conftest.py's
``runs``, archiver on), written by the pixel engine's text mode from the records it is
sent: the counts are the labelled events', the windows cited lie in the period."""

from __future__ import annotations

import redis.asyncio as aioredis

from agent.archive.alert_store import AlertStore
from agent.archive.blobs import BlobStore
from agent.archive.settings import ArchiveSettings
from agent.archive.store import ArchiveStore
from agent.eval.labels import LabelSet
from agent.eval.pixel_engine import PixelEngine
from agent.pipeline.rules import Rule
from agent.pipeline.rules_store import RuleStore
from agent.reports.builder import ReportSources, build_report
from agent.reports.models import Report
from streams.bus.keys import Keys
from tests.eval.conftest import Runs

CAMERAS = ["two", "stays", "quiet", "lane-in", "lane-out"]


async def report_of(
    runs: Runs,
    aclient: aioredis.Redis,
    cameras: list[str],
    period: tuple[float, float],
    bundled_rules: list[Rule],
) -> tuple[Report, PixelEngine]:
    settings = ArchiveSettings()
    store = await ArchiveStore.open_existing(settings, runs.data_dir)
    blobs = BlobStore.open(settings, runs.data_dir)
    alerts = await AlertStore.open_existing(settings, runs.data_dir, blobs)
    assert store is not None
    assert alerts is not None
    engine = PixelEngine()
    keys = Keys("vigil-report-test:")
    await RuleStore(aclient, keys).seed(bundled_rules)  # the questions the facts quote
    sources = ReportSources(aclient, keys, store, alerts, engine)
    return await build_report(sources, "rp_test", cameras, period), engine


def whole_run(runs: Runs, bundled: LabelSet) -> tuple[float, float]:
    starts = [runs.origins[video] for video in CAMERAS]
    ends = [runs.origins[video] + bundled.durations_s[video] for video in CAMERAS]
    return min(starts) - 1, max(ends) + 30


async def test_a_report_of_the_run_counts_the_labelled_events_and_cites_inside_its_period(
    runs: Runs, bundled: LabelSet, aclient: aioredis.Redis
) -> None:
    period = whole_run(runs, bundled)
    report, engine = await report_of(runs, aclient, CAMERAS, period, bundled.rules())
    alerts = {(c.camera, c.rule): c.alerts for c in report.counts if c.alerts}
    assert alerts == {
        ("two", "green-object"): len(bundled.events("green-object", "two")),
        ("stays", "red-object"): 1,
        ("lane-in", "yellow-in-lane"): 1,
    }
    timeline_alerts = [entry for entry in report.timeline if entry.kind == "alert"]
    assert len(timeline_alerts) == sum(alerts.values())
    for entry in timeline_alerts:  # each at its labelled event, on the wall clock
        events = bundled.events(str(entry.rule), entry.camera)
        origin = runs.origins[entry.camera]
        assert any(start - 1 <= entry.start - origin <= end for start, end in events), entry
    scenes = [entry for entry in report.timeline if entry.kind == "scene"]
    assert {entry.camera for entry in scenes} >= {"two", "stays", "lane-in"}
    assert report.notable
    assert report.engine_calls == engine.reason_calls >= 1
    # Written from the counted facts it was sent (the two green events, 17 s apart, are
    # one occurrence by the history rule's 90-s gap; the alerts count them apart).
    for colour, camera in (("green", "two"), ("red", "stays"), ("yellow", "lane-in")):
        assert f"A {colour} object was detected 1 separate times on camera {camera}" in (
            report.summary
        )
    assert report.cited
    for window in report.windows:
        assert period[0] <= window.start < period[1]
    assert all(any(w.window == cited and w.cited for w in report.windows) for cited in report.cited)


async def test_a_report_of_part_of_the_run_cites_only_windows_inside_that_part(
    runs: Runs, bundled: LabelSet, aclient: aioredis.Redis
) -> None:
    """The second green event only: the first one's windows lie before the period."""
    origin = runs.origins["two"]
    (_, first_end), (second_start, _) = bundled.events("green-object", "two")
    period = (origin + first_end + 10, origin + bundled.durations_s["two"] + 30)
    report, _ = await report_of(runs, aclient, ["two"], period, bundled.rules())
    assert [(c.rule, c.alerts) for c in report.counts if c.alerts] == [("green-object", 1)]
    assert report.windows
    for window in report.windows:
        assert period[0] <= window.start < period[1]
    assert all(entry.start >= origin + second_start - 8 for entry in report.timeline)


async def test_a_quiet_period_says_so_without_a_model_call(
    runs: Runs, bundled: LabelSet, aclient: aioredis.Redis
) -> None:
    report, engine = await report_of(
        runs, aclient, ["quiet"], whole_run(runs, bundled), bundled.rules()
    )
    assert not report.notable
    assert (report.engine_calls, engine.reason_calls) == (0, 0)
    assert report.summary.startswith("Nothing notable on quiet in this period")
    assert (report.counts, report.timeline, report.cited) == ([], [], [])
