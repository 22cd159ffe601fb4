"""A labelled set split into batches of videos, and the batches' reports merged. Pure."""

from __future__ import annotations

from agent.eval.batches import merge, split
from agent.eval.labels import LabelSet
from agent.eval.report import Figures, Match, Report, SeenAlert


def test_each_batch_has_its_videos_and_only_the_rules_and_events_about_them(
    bundled: LabelSet,
) -> None:
    parts = split(bundled, 3)
    assert [len(part.video_ids) for part in parts] == [3, 3, 3, 1]
    assert [video for part in parts for video in part.video_ids] == bundled.video_ids
    for part in parts:
        for rule in part.file.rules:
            assert rule.videos
            assert set(rule.videos) <= set(part.video_ids)
            for video in rule.videos:
                assert part.events(rule.id, video) == bundled.events(rule.id, video)
        assert set(part.durations_s) == set(part.video_ids)


def test_merged_reports_hold_every_batch_figures() -> None:
    def report(video: str, detected: bool) -> Report:
        alert = SeenAlert(f"al_{video}", video, "lane", 1.0, 3.0, 4.0)
        figures = Figures([Match((1.0, 9.0), alert)], []) if detected else Figures([], [alert])
        return Report({"lane": figures}, {video: 60.0}, {video: 5}, 8.0, 8.0, 1, {video: 100.0})

    merged = merge([report("a", True), report("b", False)])
    assert merged.rules["lane"].to_json()["detected"] == 1
    assert merged.rules["lane"].to_json()["false_alerts"] == 1
    assert merged.rules["lane"].to_json()["precision"] == 0.5
    assert merged.durations_s == {"a": 60.0, "b": 60.0}
    assert merged.calls == {"a": 5, "b": 5}
    assert merged.bad_signatures == 2
