"""A labelled set made from operators' feedback: every archived context clip of a rule
becomes a video, and what people said of it becomes its truth.

- a confirmed alert: one event, from its onset to when it was last seen (or the onset and
  end the operator corrected);
- a false alarm: no event;
- a missed event: one event, as the operator marked it.

Times are seconds of the clip (its first frame is second 0). The set is written as
videos and a ``labels.yaml`` that ``vigil eval`` reads like any other, with the rule as it
is now, and with a changed rule beside it (``<rule>-after``) to compare on the same
footage. Each video plays as a camera with the zones and masks of the camera it came
from, so a rule about a zone sees it drawn.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import yaml

from agent.archive.alert_store import AlertStore
from agent.archive.blobs import BlobStore
from agent.archive.missed_store import MissedFilter, MissedStore
from agent.archive.settings import ArchiveSettings
from agent.pipeline.alert_feedback import Verdict
from agent.pipeline.alert_records import AlertFilter, AlertKey, AlertRecord
from agent.pipeline.rules import Rule
from streams.zones import CameraZones

PAGE = 500
CLIPS_MAX = 500  # the newest; a set is played at once, every clip a camera
AFTER_SUFFIX = "-after"
Interval = tuple[float, float]


class FeedbackSetError(ValueError):
    """No set can be made; the message says why."""


@dataclass(frozen=True, slots=True)
class FeedbackClip:
    video: str  # its id in the set: what the feedback was, and a number
    camera: str
    uri: str  # the context clip among the archive's files
    events: list[Interval]  # in seconds of the clip
    source: str  # the alert or missed event it comes from


async def feedback_clips(
    alerts: AlertStore | None, missed: MissedStore, rule_id: str, since: float | None
) -> list[FeedbackClip]:
    """The rule's archived context clips with feedback, oldest first, at most CLIPS_MAX."""
    judged = [] if alerts is None else await _judged_alerts(alerts, rule_id, since)
    marked = await missed.page(MissedFilter(rule=rule_id, since=since), CLIPS_MAX)
    found: list[tuple[float, str, str, str, list[Interval]]] = []
    for alert in judged:
        if alert.context_clip is not None and alert.context_clip_start is not None:
            events = _clipped(
                _alert_events(alert), alert.context_clip_start, alert.context_clip_end
            )
            found.append((alert.opened_at, alert.camera, alert.context_clip, alert.id, events))
    for event in marked:
        if event.clip is not None and event.clip_start is not None:
            events = _clipped([(event.start, event.end)], event.clip_start, event.clip_end)
            found.append((event.start, event.camera, event.clip, event.id, events))
    found.sort()
    found = found[-CLIPS_MAX:]
    return [
        FeedbackClip(f"{_kind(source, events)}-{number:03d}", camera, uri, events, source)
        for number, (_, camera, uri, source, events) in enumerate(found, start=1)
    ]


@dataclass(frozen=True, slots=True)
class SetRequest:
    rule_id: str
    since: float | None  # feedback on alerts opened since (epoch s); None: all
    rules: list[Rule]  # asked of every clip: the rule now, and any changed one
    zones: dict[str, CameraZones]  # the cameras' zones and masks, by camera id


async def build_set(
    archive: ArchiveSettings, data_dir: Path, folder: Path, request: SetRequest
) -> Path:
    """Reads the rule's clips with feedback from the archive and writes the set into
    ``folder``; returns the labels' path."""
    blobs = await asyncio.to_thread(BlobStore.open, archive, data_dir)
    alerts = await AlertStore.open_existing(archive, data_dir, blobs)
    missed = await MissedStore.open(archive, data_dir)
    clips = await feedback_clips(alerts, missed, request.rule_id, request.since)
    return await asyncio.to_thread(write_set, folder, clips, blobs, request.rules, request.zones)


def write_set(
    folder: Path,
    clips: list[FeedbackClip],
    blobs: BlobStore,
    rules: list[Rule],
    zones: dict[str, CameraZones],
) -> Path:
    """Writes the clips' videos and ``labels.yaml`` into ``folder``; returns the labels'
    path. ``rules`` are asked of every clip (the rule now, and any changed one)."""
    if not clips:
        raise FeedbackSetError("no archived context clip has feedback for that rule yet")
    folder.mkdir(parents=True, exist_ok=True)
    videos = []
    for clip in clips:
        data = blobs.get(clip.uri)
        if data is None:
            raise FeedbackSetError(f"the archive has lost {clip.uri} ({clip.source})")
        (folder / f"{clip.video}.mp4").write_bytes(data)
        camera = zones.get(clip.camera, CameraZones())
        videos.append({
            "id": clip.video, "path": f"{clip.video}.mp4",
            "zones": [zone.model_dump() for zone in camera.zones],
            "masks": [mask.model_dump() for mask in camera.masks],
        })  # fmt: skip
    labelled = [_labelled_rule(rule, clips) for rule in rules]
    path = folder / "labels.yaml"
    path.write_text(yaml.safe_dump({"videos": videos, "rules": labelled}, sort_keys=False))
    return path


def after_rule(changed: Rule) -> Rule:
    """A changed rule under the id it is reported by beside the rule now."""
    return changed.model_copy(
        update={"id": f"{changed.id.removesuffix(AFTER_SUFFIX)}{AFTER_SUFFIX}"}
    )


async def _judged_alerts(
    alerts: AlertStore, rule_id: str, since: float | None
) -> list[AlertRecord]:
    judged: list[AlertRecord] = []
    wanted = AlertFilter(rule=rule_id, since=since)
    before: AlertKey | None = None
    while len(judged) < CLIPS_MAX:
        page = await alerts.page(wanted, before, None, PAGE)
        judged += [alert for alert in page if alert.feedback and alert.context_clip]
        if len(page) < PAGE:
            break
        before = AlertKey.of(page[-1])
    return judged


def _alert_events(alert: AlertRecord) -> list[Interval]:
    feedback = alert.feedback
    if feedback is None or feedback.verdict is Verdict.FALSE_ALARM:
        return []
    onset = feedback.onset or alert.onset_at or alert.opened_at
    end = feedback.end or alert.last_seen or alert.closed_at or alert.opened_at
    return [(onset, max(end, onset))]


def _clipped(events: list[Interval], clip_start: float, clip_end: float | None) -> list[Interval]:
    """Events in seconds of the clip, cut to it (an event outside it is dropped)."""
    length = (clip_end or clip_start) - clip_start
    inside = []
    for start, end in events:
        first, last = max(0.0, start - clip_start), min(length, end - clip_start)
        if last > first:
            inside.append((round(first, 2), round(last, 2)))
    return inside


def _kind(source: str, events: list[Interval]) -> str:
    if source.startswith("ms_"):
        return "missed"
    return "confirmed" if events else "false-alarm"


def _labelled_rule(rule: Rule, clips: list[FeedbackClip]) -> dict[str, object]:
    # Judged as it answers, not when: no hours, switched on
    document = rule.model_dump(
        mode="json", exclude={"cameras", "disabled_cameras", "active_hours", "enabled"}
    )
    events = {clip.video: [list(event) for event in clip.events] for clip in clips if clip.events}
    return {**document, "videos": [clip.video for clip in clips], "events": events}
