"""What a report is made of, per camera: the rules' counts, the alerts that opened, and
the stretches where the scene was not what the camera usually shows.

The usual scene is the camera's most frequent caption over the period (compared with
case, spacing and final punctuation ignored); windows with another caption are notable,
and those of one caption less than ``STRETCH_GAP_MS`` apart are one stretch. A camera
keeps its ``STRETCHES_MAX`` most telling stretches (those where a rule was detected, then
the longest), so a model whose captions never repeat cannot flood a report.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import redis.asyncio as aioredis

from agent.archive.alert_pages import period_alerts
from agent.archive.alert_store import AlertStore
from agent.archive.history import DETECTIONS_MAX, AlertFact, RuleFact, rule_facts
from agent.archive.store import ArchiveStore, Caption, WindowFilter
from agent.pipeline.alert_records import AlertFilter, AlertRecord
from streams.bus.keys import Keys

CAPTIONS_MAX = 80_000  # per camera: a week of 8-s windows
STRETCHES_MAX = 48  # per camera
STRETCH_GAP_MS = 60_000
ALERTS_MAX = 1000  # per camera
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Stretch:
    camera_id: str
    start_ms: int
    end_ms: int
    caption: str
    first_window_id: str
    windows: int
    detected: bool  # a rule was detected in one of its windows


@dataclass(frozen=True, slots=True)
class CameraRecords:
    camera_id: str
    facts: tuple[RuleFact, ...]
    alerts: tuple[AlertRecord, ...]  # oldest first
    stretches: tuple[Stretch, ...]  # oldest first
    capped: bool  # more windows, detections or alerts than read: counts are lower bounds

    @property
    def notable(self) -> bool:
        return bool(self.facts or self.alerts or self.stretches)


async def camera_records(
    store: ArchiveStore | None,
    client: aioredis.Redis,
    keys: Keys,
    alert_archive: AlertStore | None,
    camera_id: str,
    period_ms: tuple[int, int],
) -> CameraRecords:
    since_ms, until_ms = period_ms
    where = WindowFilter(camera_id, None, since_ms, until_ms)
    wanted = AlertFilter(camera=camera_id, since=since_ms / 1000, until=until_ms / 1000)
    alerts = await period_alerts(client, keys, alert_archive, wanted, ALERTS_MAX + 1)
    detections = [] if store is None else await store.detections(where, DETECTIONS_MAX + 1)
    captions = [] if store is None else await store.captions(where, CAPTIONS_MAX + 1)
    facts = rule_facts(
        detections[:DETECTIONS_MAX],
        [AlertFact(a.id, a.camera, a.rule, a.opened_at) for a in alerts[:ALERTS_MAX]],
    )
    capped = max(
        len(alerts) - ALERTS_MAX, len(detections) - DETECTIONS_MAX, len(captions) - CAPTIONS_MAX
    )
    return CameraRecords(
        camera_id,
        tuple(facts),
        tuple(sorted(alerts[:ALERTS_MAX], key=lambda a: a.onset_at or a.opened_at)),
        tuple(notable_stretches(captions[:CAPTIONS_MAX])),
        capped > 0,
    )


def notable_stretches(captions: Sequence[Caption]) -> list[Stretch]:
    """One camera's windows whose caption is not its usual one, as stretches, oldest
    first, at most STRETCHES_MAX."""
    if not captions:
        return []
    usual = Counter(_normalized(c.caption) for c in captions).most_common(1)[0][0]
    stretches: list[Stretch] = []
    for caption in captions:
        text = _normalized(caption.caption)
        if text == usual:
            continue
        last = stretches[-1] if stretches else None
        joins = last and _normalized(last.caption) == text
        if last and joins and caption.start_ms - last.end_ms < STRETCH_GAP_MS:
            detected = last.detected or bool(caption.detected_rules)
            stretches[-1] = Stretch(
                last.camera_id,
                last.start_ms,
                caption.end_ms,
                last.caption,
                last.first_window_id,
                last.windows + 1,
                detected,
            )
        else:
            stretches.append(
                Stretch(
                    caption.camera_id,
                    caption.start_ms,
                    caption.end_ms,
                    caption.caption,
                    caption.window_id,
                    1,
                    bool(caption.detected_rules),
                )
            )
    kept = sorted(stretches, key=lambda s: (not s.detected, -s.windows, s.start_ms))
    return sorted(kept[:STRETCHES_MAX], key=lambda s: s.start_ms)


def _normalized(caption: str) -> str:
    return _SPACES.sub(" ", caption.strip().lower()).rstrip(".!")
