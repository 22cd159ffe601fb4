"""The soak's figures from what it recorded: pure functions, no I/O.

- Delivery per path. Webhooks: every alert event on the outbox is due once at the
  receiver under its webhook id ``msg_<outbox id>``; lost = due and never received,
  duplicates = received more than once. MQTT: the events carry no id, so they are
  counted per (alert, event type): lost = fewer received than due, duplicates = more.
  Archive: every alert closed (and settled) is due as one row; duplicates = several rows.
- Recall: each truth event (a run of frames showing a rule's colour) outside every
  outage window is found when an alert of that camera and rule is open during it.
- Growth: the least-squares slope of a memory series after warm-up, in % of its value at
  warm-up per hour; for a role, over the longest life of one process after warm-up.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from agent.bench.soak_faults import overlaps
from agent.bench.soak_observe import MqttReceipt, TruthSample

TRUTH_GAP_S = 4.0  # samples further apart than this split an event
MIN_EVENT_S = 4.0  # shorter runs of the colour cannot make two positive windows
DETECT_SLACK_S = 30.0  # an alert may open this long after the event ended (window + confirm)
OUTAGE_MARGIN_S = 20.0  # an event this close to an outage may have started in it


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    entry_id: str
    alert_id: str
    type: str  # alert.opened, …


@dataclass(frozen=True, slots=True)
class AlertSpan:
    alert_id: str
    camera: str
    rule: str
    onset_s: float  # epoch
    closed_s: float | None


@dataclass(frozen=True, slots=True)
class TruthEvent:
    camera: str
    rule: str
    start_s: float  # epoch
    end_s: float


def path_figures(due: Counter[str], received: Counter[str]) -> dict[str, int]:
    lost = sum(max(0, count - received[key]) for key, count in due.items())
    duplicates = sum(max(0, count - due[key]) for key, count in received.items() if key in due)
    unexpected = sum(count for key, count in received.items() if key not in due)
    delivered = sum(min(count, received[key]) for key, count in due.items())
    return {"due": sum(due.values()), "delivered": delivered, "lost": lost,
            "duplicates": duplicates, "unexpected": unexpected}  # fmt: skip


def webhook_figures(events: list[OutboxEvent], message_ids: Iterable[str]) -> dict[str, int]:
    due = Counter(f"msg_{event.entry_id}" for event in events)
    return path_figures(due, Counter(message_ids))


def mqtt_figures(
    events: list[OutboxEvent], receipts: list[MqttReceipt], published: dict[str, str]
) -> dict[str, int]:
    due = Counter(f"{event.alert_id}/{published.get(event.type, event.type)}" for event in events)
    return path_figures(due, Counter(f"{alert_id}/{kind}" for alert_id, kind in receipts))


def archive_figures(closed_ids: list[str], archived_ids: list[str]) -> dict[str, int]:
    return path_figures(Counter(closed_ids), Counter(archived_ids))


def truth_events(samples: list[TruthSample]) -> list[TruthEvent]:
    """Runs of samples that saw the colour, per camera and rule."""
    ordered = sorted(samples, key=lambda sample: (sample[1], sample[2], sample[0]))
    events = []
    for (camera, rule), group in itertools.groupby(ordered, key=lambda s: (s[1], s[2])):
        seen = [ts for ts, _, _, positive in group if positive]
        for start, end in _runs(seen):
            if end - start >= MIN_EVENT_S:
                events.append(TruthEvent(camera, rule, start, end))
    return events


def _runs(times: list[float]) -> list[tuple[float, float]]:
    runs: list[tuple[float, float]] = []
    for ts in times:
        if runs and ts - runs[-1][1] <= TRUTH_GAP_S:
            runs[-1] = (runs[-1][0], ts)
        else:
            runs.append((ts, ts))
    return runs


def recall(
    events: list[TruthEvent], alerts: list[AlertSpan], outages: list[tuple[float, float]]
) -> dict[str, object]:
    """Recall over the truth events clear of every outage (epoch windows)."""
    clear = [
        event for event in events
        if not overlaps(event.start_s - OUTAGE_MARGIN_S, event.end_s + DETECT_SLACK_S, outages)
    ]  # fmt: skip
    missed = [event for event in clear if not any(_covers(alert, event) for alert in alerts)]
    found = len(clear) - len(missed)
    return {
        "events": len(events),
        "events_outside_outages": len(clear),
        "found": found,
        "recall": round(found / len(clear), 3) if clear else None,
        "missed": [
            {
                "camera": e.camera,
                "rule": e.rule,
                "start": round(e.start_s, 1),
                "end": round(e.end_s, 1),
            }
            for e in missed
        ],
    }


def _covers(alert: AlertSpan, event: TruthEvent) -> bool:
    if (alert.camera, alert.rule) != (event.camera, event.rule):
        return False
    closed = alert.closed_s if alert.closed_s is not None else float("inf")
    return alert.onset_s <= event.end_s + DETECT_SLACK_S and closed >= event.start_s


def growth_pct_per_hour(series: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, value) as % of the first value per hour."""
    if len(series) < 3 or series[-1][0] - series[0][0] <= 0 or series[0][1] <= 0:
        return None
    count = len(series)
    mean_t = sum(t for t, _ in series) / count
    mean_v = sum(v for _, v in series) / count
    spread = sum((t - mean_t) ** 2 for t, _ in series)
    slope = sum((t - mean_t) * (v - mean_v) for t, v in series) / spread
    return round(slope * 3600.0 / series[0][1] * 100.0, 2)


def role_growth(samples: list[tuple[float, int, int]], warm_s: float) -> float | None:
    """Growth over the longest-lived process among the samples after warm-up."""
    after = [sample for sample in samples if sample[0] >= warm_s]
    lives: dict[int, list[tuple[float, float]]] = {}
    for at, pid, rss in after:
        lives.setdefault(pid, []).append((at, float(rss)))
    if not lives:
        return None
    longest = max(lives.values(), key=lambda life: life[-1][0] - life[0][0])
    return growth_pct_per_hour(longest)


def percentile(values: list[float], fraction: float) -> float | None:
    ordered = sorted(values)
    if not ordered:
        return None
    return round(ordered[max(0, int(len(ordered) * fraction + 0.999999) - 1)], 2)
