"""``vigil bench soak``: Vigil's roles apart, everything on, under a schedule of faults.

Seven processes (``vigil ingest``, ``scheduler``, ``worker``, ``dispatcher``, ``mqtt``,
``archiver``, ``api``), each with its own configuration file, share one ``redis-server``
with an append-only file; the bundled labelled footage loops as six cameras; the pixel
engine answers over HTTP; alerts go out as signed webhooks to a receiver, to Mosquitto
(read back by a real MQTT subscriber) and into the archive on an S3-compatible store.
Once every role is up the faults of ``soak_faults.schedule`` are injected on time while
a probe times ``/healthz`` and a load process hits the API in bursts. After the run the
bench waits for the backlog to drain and reports deaths, part restarts, per-path
delivery, recall outside the outage windows, memory growth and the probe's p99.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis
import typer

from agent.bench import soak_collect as collect
from agent.bench.delivery import free_port
from agent.bench.soak_faults import Fault, schedule, timeline
from agent.bench.soak_figures import figures, render
from agent.bench.soak_inject import Injector
from agent.bench.soak_observe import MemorySamples, MqttRecorder, TruthReader, now_s
from agent.bench.soak_roles import ROLES, RoleProcess, role_processes, write_configs
from agent.bench.soak_servers import Servers, start_servers
from agent.bench.soak_setup import KEYS, MQTT_PREFIX, common_settings, per_role, seed
from agent.eval.footage import generate
from agent.eval.labels import LabelSet, load_labels
from agent.webhooks.signing import new_secret

log = logging.getLogger(__name__)

READY_TIMEOUT_S = 240.0
TICK_S = 1.0
MEMORY_EVERY_S = 10.0


@dataclass(frozen=True, slots=True)
class SoakConfig:
    minutes: float = 30.0
    drain_s: float = 120.0
    warmup_share: float = 0.1  # of the run, before memory growth is measured
    logs: Path | None = None  # where the roles' logs are copied at the end


@dataclass
class Recorded:
    """Everything the run collects for the figures."""

    config: SoakConfig
    faults: list[Fault]
    started_epoch: float = 0.0
    duration_s: float = 0.0
    drained_s: float | None = None
    memory: MemorySamples = field(default_factory=MemorySamples)
    errors: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


def main(config: SoakConfig, as_json: bool) -> None:
    result = run(config)
    typer.echo(json.dumps(result) if as_json else render(result))


def run(config: SoakConfig) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="vigil-soak-") as tmp:
        folder = Path(tmp)
        labels = load_labels(generate(folder / "footage"))
        secret = new_secret()
        with start_servers(folder, secret) as servers:
            recorded = Recorded(config, schedule(config.minutes))
            try:
                return _soak(folder, labels, servers, secret, recorded)
            finally:
                _keep_logs(folder, config.logs)


def _soak(
    folder: Path, labels: LabelSet, servers: Servers, secret: str, recorded: Recorded
) -> dict[str, Any]:
    api_port = free_port()
    common = common_settings(servers, labels, api_port)
    configs = write_configs(folder / "config", common, per_role(folder, ROLES))
    roles = role_processes(configs, folder / "logs")
    token = seed(servers.redis.url, servers.receiver.url, secret)
    api_url = f"http://127.0.0.1:{api_port}"
    client = redis.Redis.from_url(servers.redis.url, socket_timeout=5.0)
    recorder = MqttRecorder(servers.broker.port, MQTT_PREFIX)
    recorder.start()
    with client, _running(roles), _stopped(recorder):
        _wait_ready(client, roles, api_url, labels.video_ids)
        injector = Injector(servers, roles, KEYS)
        truth = TruthReader(
            KEYS, labels.rules(), {v: labels.camera_zones(v) for v in labels.video_ids}
        )
        with _traffic(folder, api_url, token, recorded):
            _loop(client, roles, injector, truth, recorded, labels.video_ids)
        _drain(client, roles, recorded)
        recorded.extra["truth"] = truth.samples
        return _collect(client, roles, recorder, injector, recorded, common, api_url, token)


@contextlib.contextmanager
def _running(roles: dict[str, RoleProcess]) -> Iterator[None]:
    try:
        for role in roles.values():
            role.start()
        yield
    finally:
        for role in roles.values():
            role.stop()


@contextlib.contextmanager
def _stopped(recorder: MqttRecorder) -> Iterator[None]:
    try:
        yield
    finally:
        recorder.stop()


def _wait_ready(
    client: redis.Redis, roles: dict[str, RoleProcess], api_url: str, cameras: list[str]
) -> None:
    """Until the API is ready, every consumer group exists and every camera stored a frame."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        for role in roles.values():
            if role.check(0.0):
                raise RuntimeError(f"{role.role} died at start: {role.deaths[-1].log_tail}")
        if _ready(client, api_url, cameras):
            return
        time.sleep(0.5)
    raise RuntimeError(f"the roles were not up within {READY_TIMEOUT_S:.0f} s")


def _ready(client: redis.Redis, api_url: str, cameras: list[str]) -> bool:
    try:
        if httpx.get(f"{api_url}/readyz", timeout=2.0).status_code != 200:
            return False
    except httpx.HTTPError:
        return False
    groups = collect.groups(KEYS)
    if any(collect.group_info(client, stream, name) is None for stream, name in groups):
        return False
    return all(client.exists(KEYS.frames(camera)) for camera in cameras)


@contextlib.contextmanager
def _traffic(folder: Path, api_url: str, token: str, recorded: Recorded) -> Iterator[None]:
    """The probe and the hostile load, each a process, for the run's length."""
    recorded.started_epoch = time.time()
    until = recorded.started_epoch + recorded.config.minutes * 60.0
    bursts = [
        [recorded.started_epoch + fault.at_s, recorded.started_epoch + fault.end_s]
        for fault in recorded.faults if fault.kind == "load"
    ]  # fmt: skip
    module = [sys.executable, "-m", "agent.bench.soak_load"]
    probe_out, load_out = folder / "probe.json", folder / "load.json"
    processes = [
        subprocess.Popen([*module, "probe", api_url, str(until), str(probe_out)]),
        subprocess.Popen([*module, "load", api_url, token, json.dumps(bursts), str(load_out)]),
    ]
    try:
        yield
    finally:
        for process in processes:
            _finish(process, 60.0)
    recorded.extra["probe"] = _read_json(probe_out, [])
    recorded.extra["load"] = _read_json(load_out, {})


def _finish(process: subprocess.Popen[bytes], timeout_s: float) -> None:
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _read_json(path: Path, default: object) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return default


def _loop(
    client: redis.Redis,
    roles: dict[str, RoleProcess],
    injector: Injector,
    truth: TruthReader,
    recorded: Recorded,
    cameras: list[str],
) -> None:
    events = timeline(recorded.faults)
    started = time.monotonic() - (time.time() - recorded.started_epoch)
    duration = recorded.config.minutes * 60.0
    next_memory = 0.0
    try:
        while (at := now_s(started)) < duration:
            while events and events[0][0] <= at:
                _apply(injector, events.pop(0), recorded)
            _tick(client, roles, truth, cameras, at)
            if at >= next_memory:
                recorded.memory.sample(at, roles, client)
                next_memory += MEMORY_EVERY_S
            time.sleep(TICK_S)
    finally:
        for event in events:  # whatever the end of the run cut short is undone
            if not event[2]:
                _apply(injector, event, recorded)
    recorded.duration_s = now_s(started)


def _apply(injector: Injector, event: tuple[float, Fault, bool], recorded: Recorded) -> None:
    _, fault, begin = event
    try:
        injector.apply(fault, begin)
    except Exception as error:  # a fault that could not be done is reported, not fatal
        recorded.errors.append(
            f"{fault.kind} {fault.target} {'begin' if begin else 'end'}: {error!r}"
        )


def _tick(
    client: redis.Redis,
    roles: dict[str, RoleProcess],
    truth: TruthReader,
    cameras: list[str],
    at: float,
) -> None:
    for role in roles.values():
        role.check(at)
    with contextlib.suppress(redis.RedisError):
        truth.sample(client, cameras)


def _drain(client: redis.Redis, roles: dict[str, RoleProcess], recorded: Recorded) -> None:
    """Stops the cameras, then waits until every alert has closed (the scheduler closes
    those of silent cameras) and nothing is left to do, twice in a row, or drain_s.
    With cameras still running, alerts would keep opening and closing after the last
    look, and an alert closed a moment before the figures are read would count as lost."""
    roles["ingest"].retire()
    started = time.monotonic()
    quiet = 0
    while time.monotonic() - started < recorded.config.drain_s and quiet < 2:
        time.sleep(1.0)
        for role in roles.values():
            role.check(recorded.duration_s + time.monotonic() - started)
        with contextlib.suppress(redis.RedisError):
            settled = collect.backlog(client, KEYS) == 0 and collect.open_alerts(client, KEYS) == 0
            quiet = quiet + 1 if settled else 0
    recorded.drained_s = round(time.monotonic() - started, 1) if quiet >= 2 else None
    time.sleep(2.0)  # the last MQTT messages and webhook answers in flight


def _collect(
    client: redis.Redis,
    roles: dict[str, RoleProcess],
    recorder: MqttRecorder,
    injector: Injector,
    recorded: Recorded,
    common: dict[str, Any],
    api_url: str,
    token: str,
) -> dict[str, Any]:
    spans, closed = collect.alert_spans(client, KEYS)
    recorded.extra.update(
        outbox=collect.outbox_events(client, KEYS),
        spans=spans,
        closed=closed,
        mqtt=recorder.receipts,
        archived=collect.archived_alert_ids(common["archive"], Path(".")),
        restarts=collect.part_restarts(api_url, token, client, KEYS),
        poison=collect.poison_left(client, injector.poisoned),
        dead_letters=collect.dead_letter_streams(client, KEYS),
    )
    return figures(recorded, roles, injector.servers.receiver.receipts)


def _keep_logs(folder: Path, target: Path | None) -> None:
    if target is None:
        return
    target.mkdir(parents=True, exist_ok=True)
    for path in [*(folder / "logs").glob("*.log"), folder / "store.log"]:
        if path.exists():
            shutil.copy(path, target / path.name)
