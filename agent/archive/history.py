"""Questions over history: the archive's records a question is answered from.

Two kinds of records go to the model, in one reasoning call:
- facts counted from every window of the period (per rule and camera: the windows where
  it was detected, the separate times it happened, the first and last), and the alerts
  that opened in it, so counts and "when was the last time" come from the records and
  are never left to the model's guess;
- the timestamped captions of the windows that matter, each tagged ``[w<n>]`` so the
  answer can cite them: every captioned window when the period holds few, otherwise
  the best matches of the question whose caption is near it in meaning, with the last
  detection of each fact beside them.

What fits the model's context is chosen after (``agent.api.history_budget``): facts
first, then the last detections, then the best matches (``priority``); the records then
say how many were left out.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from agent.archive.embedder import Embedder
from agent.archive.search import cosine_similarity, search_windows_near
from agent.archive.store import ArchiveStore, Detection, StoredWindow, WindowFilter

# The windows whose captions the model reads, at most; more would not fit its context.
EVIDENCE_WINDOWS = 24
# Below this cosine a caption is not about the question (all-MiniLM-L6-v2: unrelated
# sentences score about 0 to 0.2, a paraphrase 0.5 and more).
MIN_SIMILARITY = 0.25
# Detections of one rule on one camera closer than this belong to the same occurrence: a
# still scene is looked at again once a minute (pipeline.heartbeat_s), so a vehicle
# parked for an hour is detected every minute or so, and is there once.
OCCURRENCE_GAP_MS = 90_000
DETECTIONS_MAX = 20_000
FACTS_MAX = 20
_TAG = re.compile(r"\[w(\d{1,3})\]")


@dataclass(frozen=True, slots=True)
class AlertFact:
    """An alert that opened in the period, as the facts count it."""

    alert_id: str
    camera_id: str
    rule_id: str
    opened_at: float  # epoch seconds


@dataclass(frozen=True, slots=True)
class RuleFact:
    """One rule on one camera over the period, counted from the archive's records."""

    rule_id: str
    camera_id: str
    windows: int  # windows where it was detected
    occurrences: int  # runs of detections less than OCCURRENCE_GAP_MS apart
    alerts: int
    first_ms: int
    last_ms: int  # end of the last detection, or of the still windows after it
    last_window_id: str


@dataclass(frozen=True, slots=True)
class HistoryRecords:
    windows: tuple[StoredWindow, ...]  # oldest first; window n is tagged [w<n+1>]
    facts: tuple[RuleFact, ...]  # most recently detected first
    alerts: tuple[AlertFact, ...]
    detections_capped: bool  # more detections than DETECTIONS_MAX: counts are lower bounds
    # Window ids, the most important first: the facts' last detections, then best matches.
    priority: tuple[str, ...] = ()
    windows_left_out: int = 0  # for the model's context
    facts_left_out: int = 0

    @property
    def empty(self) -> bool:
        return not (self.windows or self.facts or self.alerts)

    def tag(self, index: int) -> str:
        return f"w{index + 1}"

    def cited(self, *texts: str | None) -> list[StoredWindow]:
        """The windows the texts cite by tag, in the order of first citation."""
        numbers = [int(match) for text in texts if text for match in _TAG.findall(text)]
        indices = dict.fromkeys(n - 1 for n in numbers if 1 <= n <= len(self.windows))
        return [self.windows[index] for index in indices]

    def text(self, rule_questions: dict[str, str]) -> str:
        """The records as the model reads them."""
        return "\n\n".join((self._facts_text(rule_questions), self._windows_text()))

    def _facts_text(self, rule_questions: dict[str, str]) -> str:
        lines = ["Facts:"]
        if self.detections_capped:
            lines.append(f"- (counted over the newest {DETECTIONS_MAX} detections only)")
        tags = {window.window_id: self.tag(i) for i, window in enumerate(self.windows)}
        lines += [fact_line(f, rule_questions, tags.get(f.last_window_id)) for f in self.facts]
        if self.facts_left_out:
            lines.append(
                f"- ({self.facts_left_out} more rules detected in this period are left out "
                "to fit the model's context.)"
            )
        elif len(lines) == 1:
            lines.append("- no rule was detected in this period.")
        return "\n".join(lines)

    def _windows_text(self) -> str:
        lines = ["Windows:"]
        lines += [window_line(window, self.tag(i)) for i, window in enumerate(self.windows)]
        if self.windows_left_out:
            lines.append(
                f"({self.windows_left_out} more windows about the question are left out to "
                "fit the model's context.)"
            )
        elif len(lines) == 1:
            lines.append("- no window of this period is about the question.")
        return "\n".join(lines)


def fact_line(fact: RuleFact, rule_questions: dict[str, str], tag: str | None) -> str:
    """One fact as the model reads it; ``tag`` names its last detection's window when
    the records show that window."""
    question = rule_questions.get(fact.rule_id)
    named = f'rule {fact.rule_id} ("{question}")' if question else f"rule {fact.rule_id}"
    return (
        f"- {named} on camera {fact.camera_id}: detected {fact.occurrences} "
        f"separate times ({fact.windows} windows, {fact.alerts} alerts), first at "
        f"{clock(fact.first_ms)}, last until {clock(fact.last_ms)}"
        f"{f' [{tag}]' if tag else ''}."
    )


def window_line(window: StoredWindow, tag: str) -> str:
    """One window as the model reads it: tag, camera, UTC times, caption, rules."""
    detected = ", ".join(window.detected_rules) or "none"
    return (
        f"[{tag}] camera {window.camera_id}, {clock(window.start_ms)} to "
        f"{clock(window.end_ms)}: {window.caption} (rules detected: {detected})"
    )


async def gather_records(
    store: ArchiveStore,
    embedder: Embedder,
    question: str,
    where: WindowFilter,
    alerts: Sequence[AlertFact],
) -> HistoryRecords:
    """The records ``question`` is answered from, over the windows ``where`` selects."""
    detections = await store.detections(where, DETECTIONS_MAX + 1)
    capped = len(detections) > DETECTIONS_MAX
    facts = await _with_still_ends(store, rule_facts(detections[:DETECTIONS_MAX], alerts))
    windows = await _evidence_windows(store, embedder, question, where)
    last_detected = [fact.last_window_id for fact in facts]
    missing = set(last_detected) - {window.window_id for window in windows}
    extra = await asyncio.gather(*(store.window(window_id) for window_id in sorted(missing)))
    chosen = [*windows, *(window for window in extra if window is not None)]
    found = {window.window_id for window in chosen}
    ranked = [*last_detected, *(window.window_id for window in windows)]
    priority = tuple(window_id for window_id in dict.fromkeys(ranked) if window_id in found)
    chosen.sort(key=lambda window: (window.start_ms, window.camera_id))
    return HistoryRecords(tuple(chosen), tuple(facts), tuple(alerts), capped, priority)


def rule_facts(detections: Sequence[Detection], alerts: Sequence[AlertFact]) -> list[RuleFact]:
    """Per rule and camera, what the detections and alerts count; the most recently
    detected first, at most FACTS_MAX."""
    runs: dict[tuple[str, str], list[Detection]] = defaultdict(list)
    for detection in sorted(detections, key=lambda d: d.start_ms):
        for rule_id in detection.detected_rules:
            runs[(rule_id, detection.camera_id)].append(detection)
    alert_counts: dict[tuple[str, str], int] = defaultdict(int)
    for alert in alerts:
        alert_counts[(alert.rule_id, alert.camera_id)] += 1
    facts = [
        _fact(rule_id, camera_id, found, alert_counts[(rule_id, camera_id)])
        for (rule_id, camera_id), found in runs.items()
    ]
    facts.sort(key=lambda fact: (-fact.last_ms, fact.rule_id, fact.camera_id))
    return facts[:FACTS_MAX]


def clock(epoch_ms: int) -> str:
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _fact(rule_id: str, camera_id: str, found: list[Detection], alerts: int) -> RuleFact:
    occurrences = 1 + sum(
        1
        for before, after in itertools.pairwise(found)
        if after.start_ms - before.end_ms > OCCURRENCE_GAP_MS
    )
    return RuleFact(
        rule_id=rule_id, camera_id=camera_id, windows=len(found), occurrences=occurrences,
        alerts=alerts, first_ms=found[0].start_ms, last_ms=found[-1].end_ms,
        last_window_id=found[-1].window_id,
    )  # fmt: skip


async def _with_still_ends(store: ArchiveStore, facts: list[RuleFact]) -> list[RuleFact]:
    """The facts with their last detection extended by the still windows after it."""
    ends = await store.still_until([fact.last_window_id for fact in facts])
    return [
        dataclasses.replace(fact, last_ms=max(fact.last_ms, ends.get(fact.last_window_id, 0)))
        for fact in facts
    ]


async def _evidence_windows(
    store: ArchiveStore, embedder: Embedder, question: str, where: WindowFilter
) -> list[StoredWindow]:
    """Every captioned window when the period holds few; else the best matches of the
    question that are near it in meaning; the nearest in meaning first."""
    text = question.strip()
    [vector] = await asyncio.to_thread(embedder.embed, [text])
    if await store.count_windows(where, captioned=True) <= EVIDENCE_WINDOWS:
        windows, vectors = await store.captioned_windows(where, limit=EVIDENCE_WINDOWS)
        if not windows:
            return []
        order = cosine_similarity(vectors, vector).argsort(kind="stable")[::-1]
        return [windows[int(index)] for index in order]
    hits = await search_windows_near(store, text, vector, where, EVIDENCE_WINDOWS)
    vectors = await store.vectors([hit.window.window_id for hit in hits])
    similarity = cosine_similarity(vectors, vector)
    return [
        hit.window for hit, score in zip(hits, similarity, strict=True) if score >= MIN_SIMILARITY
    ]
