"""``vigil bench feedback``: a labelled set built from 50 alerts' feedback and run.

The bundled footage's red object that stays and the one that only passes by are sampled
as ingest samples them into a real Redis, and each alert's context clip is kept at the
defaults (``eval.context_before_s``/``context_after_s``) as the archiver keeps it. Fifty
closed alerts are archived with feedback, alternately: the one that stays confirmed, the
one that passes dismissed. Then, timed together, the set is built from the archive
(``vigil eval --from-feedback``) and run through the real pipeline with the pixel engine,
the rule now (the whole picture) beside the rule changed to look only inside the zone
where the object that stays rests, which the one passing by crosses below.

Prints the time, videos per minute of wall clock beside the footage's real time (the
baseline: the set plays in real time, ``AT_ONCE`` clips at a time, so it cannot take
less than the longest clip per batch), the context clip's bytes per alert, and precision
and recall before and after the change.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import redis.asyncio as aioredis
import typer
from pydantic import SecretStr

from agent.archive.alert_store import AlertRow, AlertStore
from agent.archive.blobs import BlobStore
from agent.archive.context_clips import ContextClip, context_path, keep_context_clip
from agent.archive.settings import EvalSettings
from agent.eval.batches import AT_ONCE, run_in_batches
from agent.eval.feedback_set import SetRequest, after_rule, build_set
from agent.eval.footage import generate
from agent.eval.labels import LabelSet, load_labels
from agent.eval.pixel_engine import PixelEngine
from agent.eval.report import before_after
from agent.pipeline.alert_feedback import AlertFeedback, Verdict
from agent.pipeline.alert_records import AlertRecord
from agent.pipeline.rules import Rule
from agent.runtime.config import VigilSettings
from agent.runtime.embedded_redis import EmbeddedRedis
from streams.buffer.frames import append_frame
from streams.bus.keys import Keys
from streams.ingest.file_sampling import Sampling, sample_file
from streams.zones import CameraZones, Zone

ALERTS = 50
RULE_ID = "red-object"
# Where the object that stays rests: the object that passes crosses below it
DOCK = Zone(name="dock", points=[(0.22, 0.46), (0.42, 0.46), (0.42, 0.57), (0.22, 0.57)])
CHANGED = {"zones": [DOCK.name]}
VIDEOS = {"stays": Verdict.CONFIRMED, "passes": Verdict.FALSE_ALARM}
SAMPLING = Sampling(4.0, 448 * 252, 85)
DIM = 8  # the bench's archive is searched by nobody
KEYS = Keys("vigil-bench-feedback:")


@dataclass(frozen=True, slots=True)
class FeedbackBench:
    alerts: int
    build_s: float
    seconds: float  # build and run
    footage_s: float  # the clips' footage, all together
    longest_clip_s: float
    real_time_s: float  # what real-time playback takes at least: the longest clip a batch
    videos_per_minute: float
    context_clip_bytes_per_alert: int
    precision_before: float | None
    precision_after: float | None
    recall_before: float | None
    recall_after: float | None


@dataclass(frozen=True, slots=True)
class _Kept:
    clip: ContextClip
    data: bytes
    event: tuple[float, float]  # epoch s


def main(as_json: bool, alerts: int = ALERTS) -> None:
    result = run(alerts)
    if as_json:
        typer.echo(json.dumps(asdict(result)))
        return
    typer.echo(
        f"{result.alerts} alerts' feedback: built in {result.build_s:.1f} s, built and run in "
        f"{result.seconds:.1f} s ({result.videos_per_minute:.1f} videos a minute; playing "
        f"them in real time takes {result.real_time_s:.0f} s); context clip "
        f"{result.context_clip_bytes_per_alert / 1000:.0f} kB an alert; precision "
        f"{result.precision_before} -> {result.precision_after}, recall "
        f"{result.recall_before} -> {result.recall_after}"
    )


def run(alerts: int = ALERTS) -> FeedbackBench:
    with tempfile.TemporaryDirectory(prefix="vigil-bench-feedback-") as folder:
        data = Path(folder)
        labels = load_labels(generate(data / "footage"))
        with EmbeddedRedis(data / "redis", append_only=False) as server:
            settings = VigilSettings(redis_url=SecretStr(server.url), data_dir=data / "vigil")
            kept = asyncio.run(_archive(server.url, settings, labels, alerts))
            return _measure(settings, labels, data / "set", alerts, kept)


async def _archive(
    url: str, settings: VigilSettings, labels: LabelSet, alerts: int
) -> dict[str, _Kept]:
    client = aioredis.from_url(url)
    try:
        blobs = BlobStore.open(settings.archive, settings.data_dir)
        kept = {video: await _keep(client, blobs, labels, video) for video in VIDEOS}
    finally:
        await client.aclose()
    store = await AlertStore.open(settings.archive, settings.data_dir, DIM, blobs)
    rule = _rule(labels)
    rows = [_row(number, rule, blobs, kept) for number in range(alerts)]
    await store.upsert(rows)
    return kept


async def _keep(client: aioredis.Redis, blobs: BlobStore, labels: LabelSet, video: str) -> _Kept:
    """The video sampled into the frame buffer as if it had just been seen, and its
    event's context clip kept at the defaults."""
    records = sample_file(labels.video_path(video), SAMPLING, max_frames=100_000)
    origin = time.time() - labels.durations_s[video] - 1.0
    pipe = client.pipeline()
    for record in records:
        shifted = dataclasses.replace(
            record, camera_id=video, ts=origin + record.ts - records[0].ts
        )
        append_frame(pipe, KEYS, shifted, 3600)
    await pipe.execute()
    [(start, end)] = labels.events(RULE_ID, video)
    event = (origin + start, origin + end)
    bounds = EvalSettings().bounds(*event)
    clip = await keep_context_clip(
        client, KEYS, blobs, video, f"bench-{video}", bounds, SAMPLING.fps
    )
    if clip is None:
        raise RuntimeError(f"no context clip of {video}")
    stored = blobs.get(clip.uri)
    if stored is None:
        raise RuntimeError(f"the context clip of {video} was not stored")
    return _Kept(clip, stored, event)


def _row(number: int, rule: Rule, blobs: BlobStore, kept: dict[str, _Kept]) -> AlertRow:
    video = list(VIDEOS)[number % len(VIDEOS)]
    sample = kept[video]
    alert_id = f"al_{number:020x}"
    uri = blobs.put(context_path(video, alert_id, sample.clip.start), sample.data)
    onset, end = sample.event
    record = AlertRecord(
        id=alert_id, camera=video, rule=rule.id, severity=rule.severity.value,
        question=rule.question, state="closed", acknowledged=False, onset_at=onset,
        opened_at=onset + 4.0 + number / 1000, closed_at=end + 8.0, last_seen=end,
        description="a red object", windows=2,
        feedback=AlertFeedback(verdict=VIDEOS[video], by="bench", at=time.time()),
        context_clip=uri, context_clip_start=sample.clip.start, context_clip_end=sample.clip.end,
    )  # fmt: skip
    return AlertRow(record, [], None, np.zeros(DIM, dtype=np.float32))


def _measure(
    settings: VigilSettings,
    labels: LabelSet,
    folder: Path,
    alerts: int,
    kept: dict[str, _Kept],
) -> FeedbackBench:
    rule = _rule(labels)
    changed = after_rule(rule.model_copy(update=CHANGED))
    started = time.perf_counter()
    zones = {video: CameraZones(zones=[DOCK]) for video in VIDEOS}
    request = SetRequest(RULE_ID, None, [rule, changed], zones)
    labels_path = asyncio.run(build_set(settings.archive, settings.data_dir, folder, request))
    built = time.perf_counter() - started
    report = run_in_batches(load_labels(labels_path), settings, PixelEngine())
    seconds = time.perf_counter() - started
    durations = [k.clip.end - k.clip.start for k in kept.values()]
    compared = before_after(report.to_json()["rules"], rule.id, changed.id)
    return FeedbackBench(
        alerts=alerts, build_s=round(built, 2), seconds=round(seconds, 1),
        footage_s=round(sum(durations) * alerts / len(kept), 1),
        longest_clip_s=round(max(durations), 1),
        real_time_s=round(max(durations) * -(-alerts // AT_ONCE), 1),
        videos_per_minute=round(alerts / seconds * 60, 1),
        context_clip_bytes_per_alert=round(sum(len(k.data) for k in kept.values()) / len(kept)),
        **compared,
    )  # fmt: skip


def _rule(labels: LabelSet) -> Rule:
    return next(rule for rule in labels.rules() if rule.id == RULE_ID)
