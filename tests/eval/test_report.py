"""Alerts against the truth, without I/O: matching, latency figures and engine calls."""

from __future__ import annotations

import pytest

from agent.eval.report import Figures, Report, SeenAlert, match, percentile, table


def alert(onset_s: float, opened_s: float | None = None, webhook_s: float | None = None,
          video: str = "cam", rule: str = "red") -> SeenAlert:  # fmt: skip
    opened = onset_s + 8.0 if opened_s is None else opened_s
    return SeenAlert(f"al_{onset_s:g}", video, rule, onset_s, opened, webhook_s)


def test_an_alert_from_slightly_before_the_event_to_its_end_matches() -> None:
    events = [(10.0, 20.0)]
    for onset in (8.0, 10.0, 19.9, 20.0):
        figures = match(events, [alert(onset)])
        assert (len(figures.detected), figures.false_alerts) == (1, []), onset


@pytest.mark.parametrize("onset", [7.9, 20.1])
def test_an_alert_too_early_or_too_late_is_false_and_the_event_missed(onset: float) -> None:
    figures = match([(10.0, 20.0)], [alert(onset)])
    assert figures.detected == []
    assert [a.onset_s for a in figures.false_alerts] == [onset]
    assert figures.to_json()["missed"] == 1


def test_one_alert_per_event_a_second_one_is_false() -> None:
    figures = match([(10.0, 20.0)], [alert(15.0), alert(10.5)])
    assert [a.onset_s for _, a in figures.detected] == [10.5]
    assert [a.onset_s for a in figures.false_alerts] == [15.0]


def test_alerts_go_to_the_earliest_open_event_that_holds_them() -> None:
    events = [(10.0, 20.0), (21.0, 30.0), (50.0, 60.0)]
    figures = match(events, [alert(19.5), alert(20.5)])
    assert [(event, a.onset_s) for event, a in figures.detected] == [
        ((10.0, 20.0), 19.5),
        ((21.0, 30.0), 20.5),
    ]
    assert figures.to_json()["missed"] == 1


def test_percentiles_interpolate_between_ranks() -> None:
    assert percentile([], 50) is None
    assert percentile([4.0], 95) == 4.0
    assert percentile([3.0, 1.0, 2.0, 4.0], 50) == 2.5
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 95) == pytest.approx(4.8)
    assert percentile([1.0, 9.0], 100) == 9.0


def test_latencies_run_from_the_labelled_start_and_the_onset_error_is_absolute() -> None:
    events = [(10.0, 20.0), (30.0, 40.0), (50.0, 60.0)]
    alerts = [
        alert(9.5, opened_s=14.0, webhook_s=14.5),
        alert(31.0, opened_s=40.0, webhook_s=41.0),
        alert(52.0, opened_s=70.0, webhook_s=None),  # its webhook never came
        alert(80.0),
    ]
    figures = match(events, alerts).to_json()
    assert figures == {
        "events": 3, "detected": 3, "missed": 0, "false_alerts": 1, "recall": 1.0,
        "precision": 0.75, "onset_to_opened_p50_s": 10.0, "onset_to_opened_p95_s": 19.0,
        "onset_to_opened_max_s": 20.0,
        "onset_to_webhook_p50_s": 7.75, "onset_to_webhook_p95_s": 10.675,
        "onset_to_webhook_max_s": 11.0, "webhooks_missing": 1,
        "evidence_start_error_p50_s": 1.0, "evidence_start_error_max_s": 2.0,
    }  # fmt: skip


def test_no_events_and_no_alerts_has_no_recall_and_no_latency() -> None:
    figures = Figures().to_json()
    assert figures["recall"] is None
    assert figures["precision"] is None
    assert figures["onset_to_webhook_p50_s"] is None
    assert figures["false_alerts"] == 0


def report() -> Report:
    red = match([(10.0, 20.0)], [alert(10.2, webhook_s=18.0, video="stays")])
    green = match(
        [(5.0, 9.0), (30.0, 40.0)], [alert(5.1, webhook_s=12.0, video="two", rule="green")]
    )
    return Report(
        rules={"red": red, "green": green},
        durations_s={"stays": 56.0, "two": 60.0},
        calls={"stays": 2, "two": 7},
        window_s=8.0,
        stride_s=8.0,
    )


def test_engine_calls_per_camera_hour_beside_every_window_of_the_grid() -> None:
    figures = report().to_json()
    assert figures["videos"]["stays"] == {
        "duration_s": 56.0, "calls": 2, "ungated_windows": 7,
        "calls_per_camera_hour": pytest.approx(2 / 56 * 3600, abs=1e-3),
        "calls_per_camera_hour_ungated": 450.0,
    }  # fmt: skip
    assert figures["calls_per_camera_hour"] == pytest.approx(9 / 116 * 3600, abs=1e-3)
    assert figures["calls_per_camera_hour_ungated"] == pytest.approx(14 / 116 * 3600, abs=1e-3)
    half = Report({}, {"cam": 12.0}, {}, window_s=8.0, stride_s=4.0)
    assert half.ungated_windows("cam") == 2  # [0, 8) and [4, 12)
    assert Report({}, {"cam": 5.0}, {}, 8.0, 8.0).ungated_windows("cam") == 0


def test_the_report_adds_up_its_rules_and_lists_its_alerts() -> None:
    figures = report().to_json()
    assert (figures["events"], figures["detected"], figures["missed"]) == (3, 2, 1)
    assert figures["recall"] == pytest.approx(0.667)
    assert figures["rules"]["green"]["recall"] == 0.5
    assert figures["onset_to_webhook_max_s"] == 8.0
    assert figures["webhook_bad_signatures"] == 0
    assert [(a["video"], a["event"]) for a in figures["alerts"]] == [
        ("stays", [10.0, 20.0]),
        ("two", [5.0, 9.0]),
    ]


def test_the_table_has_a_row_per_rule_and_the_calls() -> None:
    text = table(report())
    lines = text.splitlines()
    assert lines[2].startswith("red")
    assert lines[3].startswith("green")
    assert lines[4].startswith("all")
    assert "0.67" in lines[4]
    assert "engine calls per camera-hour: 279, ungated 434 (64% of ungated)" in text
    assert "stays" in text
