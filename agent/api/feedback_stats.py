"""How each rule does on each camera over a period, from what operators said: alerts,
confirmed, dismissed, missed, and the precision and recall they give.

The period's alerts are read from Redis and the archive, newest first, at most
``ALERTS_MAX`` of them (``truncated`` says when more opened in the period); missed events
come from the archive.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import redis.asyncio as aioredis
from pydantic import BaseModel, computed_field

from agent.archive.alert_pages import period_alerts
from agent.archive.alert_store import AlertStore
from agent.archive.missed_store import MissedEvent
from agent.pipeline.alert_feedback import Verdict
from agent.pipeline.alert_records import AlertFilter, AlertRecord
from streams.bus.keys import Keys

ALERTS_MAX = 5_000
PAGE = 500


class RuleFeedback(BaseModel):
    rule: str
    camera: str
    alerts: int = 0
    confirmed: int = 0
    false_alarms: int = 0
    missed: int = 0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def precision(self) -> float | None:
        """Of the alerts people judged, the share that were right."""
        judged = self.confirmed + self.false_alarms
        return round(self.confirmed / judged, 4) if judged else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def recall(self) -> float | None:
        """Of the events people know of (confirmed or missed), the share alerted."""
        known = self.confirmed + self.missed
        return round(self.confirmed / known, 4) if known else None


class FeedbackStats(BaseModel):
    since: float
    until: float
    rows: list[RuleFeedback]
    alerts_looked_at: int
    truncated: bool


@dataclass(frozen=True, slots=True)
class PeriodAlerts:
    alerts: list[AlertRecord]
    truncated: bool


async def judged_period(
    client: aioredis.Redis, keys: Keys, archive: AlertStore | None, wanted: AlertFilter
) -> PeriodAlerts:
    """The alerts ``wanted`` selects, newest first, at most ALERTS_MAX."""
    found = await period_alerts(client, keys, archive, wanted, ALERTS_MAX + 1, PAGE)
    return PeriodAlerts(found[:ALERTS_MAX], len(found) > ALERTS_MAX)


def tally(alerts: Iterable[AlertRecord], missed: Iterable[MissedEvent]) -> list[RuleFeedback]:
    """Counts per rule and camera, in rule then camera order."""
    rows: dict[tuple[str, str], RuleFeedback] = {}

    def row(rule: str, camera: str) -> RuleFeedback:
        return rows.setdefault((rule, camera), RuleFeedback(rule=rule, camera=camera))

    for alert in alerts:
        counted = row(alert.rule, alert.camera)
        counted.alerts += 1
        verdict = alert.feedback.verdict if alert.feedback else None
        counted.confirmed += verdict is Verdict.CONFIRMED
        counted.false_alarms += verdict is Verdict.FALSE_ALARM
    for event in missed:
        row(event.rule, event.camera).missed += 1
    return [rows[key] for key in sorted(rows)]
