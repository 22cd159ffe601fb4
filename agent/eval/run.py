"""The eval runner: the real pipeline over a labelled set, every video a live camera.

What `vigil up` runs is run here in-process: ingest of each video as a camera (``file://``,
played in real time), the scheduler, a worker with the given engine (or the configured
one, started as `vigil up` starts it) and the webhook dispatcher, delivering to a
receiver on loopback. Everything lives under a fresh key prefix, in the configured Redis
or an embedded one, and is deleted afterwards, so a running deployment is never touched.

Each video's wall-clock origin is the capture time of its camera's first stored frame:
file playback starts at pts 0, the capture clock anchors pts 0 to the wall clock at that
frame (``streams/decode/clock.py``), and the sampler always keeps a camera's first frame
(``streams/decode/sampling.py``); so video second ``s`` is ``origin + s`` in every alert time.
A camera is removed from the store once its video has played once, so the file's loop
never replays an event; the run then waits until the queues are drained (or ``tail_s``).
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import cast

import redis
from pydantic import SecretStr

from agent.engines import Engine
from agent.eval.labels import LabelSet
from agent.eval.receiver import WebhookReceiver
from agent.eval.report import Observed, Report, SeenAlert, build_report
from agent.pipeline.alert_state import EventType
from agent.runtime.config import VigilSettings
from agent.runtime.embedded_redis import EmbeddedRedis
from agent.runtime.ingest import follow_store_in_background, ingest_from_store
from agent.runtime.service import Roles, run_agents
from agent.runtime.startup import connect
from agent.webhooks.signing import new_secret
from agent.webhooks.subscriptions import WebhookIn, new_subscription
from streams.bus.keys import ARCHIVE_GROUP, DISPATCH_GROUP, WORKERS_GROUP, Keys
from streams.config import CameraConfig
from streams.ingest.registry import camera_document

log = logging.getLogger(__name__)

TAIL_S = 25.0  # after the last video: the last windows, alerts and webhooks
AGENTS_READY_TIMEOUT_S = 900.0  # a real model may take minutes to load
FIRST_FRAME_TIMEOUT_S = 60.0
AGENTS_STOP_S = 30.0
POLL_S = 0.1
INGEST_LEASE_S = 1.0  # ingest re-reads the camera store every lease / 3
ARCHIVE_EVERY_S = 2.0  # closed alerts archived soon after they may be


class EvalError(RuntimeError):
    """The run could not be completed; the message says why."""


def run_eval(
    labels: LabelSet,
    settings: VigilSettings,
    engine: Engine | None = None,
    tail_s: float = TAIL_S,
    archive: bool = False,
) -> Report:
    """Plays every video once through the pipeline and reports alerts against the labels;
    with ``archive``, an archiver keeps the run's windows and closed alerts in the
    configured archive (``settings.data_dir``), which outlives the run."""
    keys = Keys(f"{settings.key_prefix.rstrip(':')}-eval-{uuid.uuid4().hex[:8]}:")
    secret = new_secret()
    with (
        tempfile.TemporaryDirectory(prefix="vigil-eval-") as tmp,
        _redis_url(settings, Path(tmp)) as url,
        connect(url, settings.redis_cluster) as client,
        WebhookReceiver(secret) as receiver,
    ):
        run_settings = eval_settings(settings, labels, url, keys)
        try:
            _subscribe(client, keys, receiver.url, secret)
            observed = _play(labels, run_settings, url, client, engine, receiver, tail_s, archive)
        finally:
            _forget(client, keys)
    return build_report(labels, observed)


def eval_settings(settings: VigilSettings, labels: LabelSet, url: str, keys: Keys) -> VigilSettings:
    """The configured settings with the labelled set's cameras (disabled until all can start
    together) and rules, the run's Redis and prefix, and loopback webhooks allowed."""
    cameras = [
        CameraConfig(
            id=video.id, url=SecretStr(labels.video_path(video.id).as_uri()),
            name=f"eval {video.id}", enabled=False, zones=video.zones, masks=video.masks,
        )
        for video in labels.file.videos
    ]  # fmt: skip
    webhooks = settings.webhooks.model_copy(
        update={"allow_hosts": [*settings.webhooks.allow_hosts, "127.0.0.1"]}
    )
    return settings.model_copy(
        update={
            "redis_url": SecretStr(url),
            "key_prefix": keys.prefix,
            "cameras": cameras,
            "rules": labels.rules(),
            "webhooks": webhooks,
            "ingest": settings.ingest.model_copy(update={"lease_s": INGEST_LEASE_S}),
            "alerts": settings.alerts.model_copy(
                update={"archive_every_s": min(settings.alerts.archive_every_s, ARCHIVE_EVERY_S)}
            ),
        }
    )


def alert_times(fields: dict[str, str]) -> tuple[float, float]:
    """(onset, opened) of an alert record in epoch seconds, whichever fields it has.

    The onset is ``onset_at`` (the earliest evidence of the streak that opened it) or, in
    records without it, the opening window's start. The opening moment is the later of
    ``opened_at`` and ``created_at``: records that stamp the onset keep the opening in
    ``opened_at``; older ones keep the window start there and the opening in ``created_at``.
    """
    onset = fields.get("onset_at") or fields.get("window_start") or fields["opened_at"]
    opened = max(float(fields[name]) for name in ("opened_at", "created_at") if fields.get(name))
    return float(onset), opened


@contextmanager
def _redis_url(settings: VigilSettings, tmp: Path) -> Iterator[str]:
    if settings.redis_url is not None:
        yield settings.redis_url.get_secret_value()
        return
    with EmbeddedRedis(tmp / "redis", append_only=False) as server:
        yield server.url


def _subscribe(client: redis.Redis, keys: Keys, url: str, secret: str) -> None:
    subscription = new_subscription(WebhookIn(url=url, description="vigil eval"), secret)
    client.hset(keys.webhooks, subscription.id, subscription.model_dump_json())


class _Agents(threading.Thread):
    """The reasoning side (scheduler, worker, dispatcher) as `vigil up` runs it."""

    def __init__(
        self,
        settings: VigilSettings,
        url: str,
        stop: threading.Event,
        engine: Engine | None,
        archive: bool,
    ) -> None:
        super().__init__(name="vigil-eval-agents", daemon=True)
        self._args = (settings, url, stop, Roles(dispatcher=True, archiver=archive))
        self._engine = engine
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            run_agents(*self._args, emit=log.info, engine=self._engine)
        except BaseException as error:  # reported by the runner's thread
            self.error = error

    def check(self) -> None:
        if not self.is_alive():
            raise EvalError(f"the reasoning side stopped: {self.error or 'without an error'}")


def _play(
    labels: LabelSet,
    settings: VigilSettings,
    url: str,
    client: redis.Redis,
    engine: Engine | None,
    receiver: WebhookReceiver,
    tail_s: float,
    archive: bool,
) -> Observed:
    keys = Keys(settings.key_prefix)
    stop = threading.Event()
    with ingest_from_store(settings, client) as shard:
        follow_store_in_background(shard, stop)
        agents = _Agents(settings, url, stop, engine, archive)
        agents.start()
        try:
            _wait_for_agents(client, keys, agents)
            origins = _play_once(client, keys, labels, settings.cameras, agents)
            _settle(client, keys, _tail_s(settings, tail_s, archive), archive)
        finally:
            stop.set()
            agents.join(AGENTS_STOP_S)
    return _observed(client, keys, origins, receiver, settings)


def _tail_s(settings: VigilSettings, tail_s: float, archive: bool) -> float:
    """How long the run may wait after the last video: with the archive, long enough for
    the last alert's context clip (kept ``eval.context_after_s`` after its close)."""
    if not archive:
        return tail_s
    return max(tail_s, settings.eval.context_after_s + 2 * settings.alerts.archive_every_s + 5)


def _wait_for_agents(client: redis.Redis, keys: Keys, agents: _Agents) -> None:
    """Until the scheduler has created the job queue's group: the reasoning side starts its
    parts only once its engine is up (a real model may take minutes to load)."""
    deadline = time.monotonic() + AGENTS_READY_TIMEOUT_S
    while time.monotonic() < deadline:
        agents.check()
        if _group(client, keys.jobs, WORKERS_GROUP) is not None:
            return
        time.sleep(POLL_S)
    raise EvalError(f"the reasoning side was not up within {AGENTS_READY_TIMEOUT_S:.0f} s")


def _play_once(
    client: redis.Redis,
    keys: Keys,
    labels: LabelSet,
    cameras: list[CameraConfig],
    agents: _Agents,
) -> dict[str, float]:
    """Starts every camera at once; removes each when its video has played once.
    Returns each video's origin: the epoch time of its second 0."""
    for camera in cameras:
        enabled = camera.model_copy(update={"enabled": True})
        client.hset(keys.cameras, camera.id, camera_document(enabled))
    log.info("eval: playing %d videos once, the longest %.0f s", len(cameras),
             max(labels.durations_s.values()))  # fmt: skip
    started = time.monotonic()
    origins: dict[str, float] = {}
    playing = set(labels.video_ids)
    while playing:
        agents.check()
        for video in sorted(playing):
            origin = origins.get(video) or _first_frame_s(client, keys, video)
            if origin is None:
                if time.monotonic() - started > FIRST_FRAME_TIMEOUT_S:
                    raise EvalError(
                        f"camera {video} stored no frame: {_health(client, keys, video)}"
                    )
                continue
            origins[video] = origin
            if time.time() >= origin + labels.durations_s[video]:
                client.hdel(keys.cameras, video)
                playing.discard(video)
                log.info("eval: %s played once", video)
        time.sleep(POLL_S)
    return origins


def _first_frame_s(client: redis.Redis, keys: Keys, video: str) -> float | None:
    entries = cast(
        list[tuple[bytes, dict[bytes, bytes]]], client.xrange(keys.frames(video), count=1)
    )
    return float(entries[0][1][b"ts"]) if entries else None


def _health(client: redis.Redis, keys: Keys, video: str) -> str:
    health = cast(dict[bytes, bytes], client.hgetall(keys.health(video)))
    state = health.get(b"state", b"no health").decode()
    error = health.get(b"last_error", b"").decode()
    return f"{state}{f', {error}' if error else ''}"


def _settle(client: redis.Redis, keys: Keys, tail_s: float, archive: bool) -> None:
    """Waits until jobs, outbox and webhook queues (and, with ``archive``, the windows and
    closed alerts to archive) are empty twice in a row, or tail_s."""
    deadline = time.monotonic() + tail_s
    quiet = 0
    while time.monotonic() < deadline and quiet < 2:
        time.sleep(1.0)
        waiting = _backlog(client, keys) + (_to_archive(client, keys) if archive else 0)
        quiet = quiet + 1 if waiting == 0 else 0


def _to_archive(client: redis.Redis, keys: Keys) -> int:
    group = _group(client, keys.archive, ARCHIVE_GROUP)
    waiting = 1 if group is None else cast(int, group["pending"]) + cast(int, group["lag"] or 0)
    closed: int = client.zcard(keys.alerts_to_archive)
    return waiting + closed


def _backlog(client: redis.Redis, keys: Keys) -> int:
    """Jobs and outbox events not yet done, plus webhook messages not yet delivered."""
    waiting = 0
    for stream, name in ((keys.jobs, WORKERS_GROUP), (keys.outbox, DISPATCH_GROUP)):
        group = _group(client, stream, name)
        if group is not None:
            lag = group.get("lag")  # None when Redis cannot tell: count it as waiting
            waiting += cast(int, group["pending"]) + (1 if lag is None else cast(int, lag))
    for subscription_id in cast(list[bytes], client.hkeys(keys.webhooks)):
        waiting += client.llen(keys.webhook_queue(subscription_id.decode()))
    return waiting


def _group(client: redis.Redis, stream: str, name: str) -> dict[str, object] | None:
    """XINFO GROUPS of the stream's group ``name``; None while there is none."""
    try:
        groups = cast(list[dict[str, object]], client.xinfo_groups(stream))
    except redis.ResponseError:
        return None  # no stream yet
    return next((group for group in groups if _text(group["name"]) == name), None)


def _observed(
    client: redis.Redis,
    keys: Keys,
    origins: dict[str, float],
    receiver: WebhookReceiver,
    settings: VigilSettings,
) -> Observed:
    arrivals = receiver.first_arrivals(EventType.OPENED.value)
    alerts = []
    for alert_id in _opened_alert_ids(client, keys):
        raw = cast(dict[bytes, bytes], client.hgetall(keys.alert(alert_id)))
        fields = {name.decode(): value.decode() for name, value in raw.items()}
        origin = origins[fields["camera"]]
        onset, opened = alert_times(fields)
        webhook = arrivals.get(alert_id)
        alerts.append(
            SeenAlert(
                alert_id, fields["camera"], fields["rule"], onset - origin, opened - origin,
                None if webhook is None else webhook - origin,
            )
        )  # fmt: skip
    metrics = cast(dict[bytes, bytes], client.hgetall(keys.metrics))
    calls = {video: int(metrics.get(f"windows_processed:{video}".encode(), 0)) for video in origins}
    bad = sum(1 for receipt in receiver.receipts if receipt.verified is False)
    pipeline = settings.pipeline
    return Observed(alerts, calls, pipeline.window_s, pipeline.stride_s, bad, dict(origins))


def _opened_alert_ids(client: redis.Redis, keys: Keys) -> list[str]:
    entries = cast(list[tuple[bytes, dict[bytes, bytes]]], client.xrange(keys.alerts))
    opened = EventType.OPENED.value.encode()
    return [fields[b"alert_id"].decode() for _, fields in entries if fields.get(b"type") == opened]


def _forget(client: redis.Redis, keys: Keys) -> None:
    """Deletes every key of the run (one at a time: on a cluster they lie in many slots)."""
    for key in client.scan_iter(match=f"{keys.prefix}*", count=500):
        client.unlink(key)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
