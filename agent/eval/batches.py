"""A labelled set played some videos at a time: every video of a run is a live camera
played in real time (its decoding, sampling, JPEG and motion work), so a set of hundreds
at once would take a machine's every core and memory. Each batch is a run of its own;
the reports are merged as if one run had played them all."""

from __future__ import annotations

from agent.engines import Engine
from agent.eval.labels import LabelFile, LabelSet
from agent.eval.report import Figures, Report
from agent.eval.run import run_eval
from agent.runtime.config import VigilSettings

AT_ONCE = 25  # a 2-core machine played 50 short clips at once in real time


def run_in_batches(
    labels: LabelSet, settings: VigilSettings, engine: Engine | None, at_once: int = AT_ONCE
) -> Report:
    """``run_eval`` over the set, ``at_once`` videos a run."""
    reports = [run_eval(part, settings, engine) for part in split(labels, at_once)]
    return merge(reports)


def split(labels: LabelSet, at_once: int) -> list[LabelSet]:
    """The set as sets of at most ``at_once`` videos, each with the rules asked of them."""
    parts = []
    ids = labels.video_ids
    for first in range(0, len(ids), at_once):
        chunk = ids[first : first + at_once]
        videos = set(chunk)
        rules = [
            rule.model_copy(update={
                "videos": [video for video in rule.videos if video in videos],
                "events": {v: e for v, e in rule.events.items() if v in videos},
            })
            for rule in labels.file.rules
            if videos & set(rule.videos)
        ]  # fmt: skip
        file = LabelFile(videos=[v for v in labels.file.videos if v.id in videos], rules=rules)
        durations = {video: labels.durations_s[video] for video in chunk}
        parts.append(LabelSet(labels.path, file, durations))
    return parts


def merge(reports: list[Report]) -> Report:
    """One report of runs over different videos."""
    rules: dict[str, Figures] = {}
    for report in reports:
        for rule, figures in report.rules.items():
            earlier = rules.get(rule, Figures())
            rules[rule] = Figures(
                earlier.matches + figures.matches, earlier.false_alerts + figures.false_alerts
            )
    first = reports[0]
    return Report(
        rules,
        {video: s for report in reports for video, s in report.durations_s.items()},
        {video: n for report in reports for video, n in report.calls.items()},
        first.window_s,
        first.stride_s,
        sum(report.bad_signatures for report in reports),
        {video: s for report in reports for video, s in report.origins.items()},
    )
