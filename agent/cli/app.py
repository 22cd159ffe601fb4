"""The ``vigil`` command line."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from agent.api.keys import Scope
from agent.cli.cameras import print_camera_table
from agent.cli.keys import first_start_banner
from agent.runtime.config import ConfigError, VigilSettings, load_settings
from agent.runtime.ingest import ShardedIngest, follow_store, ingest_from_store
from agent.runtime.liveness import Heartbeat, heartbeat_file, heartbeat_written
from agent.runtime.logs import configure_logging, quiet_engine_logs
from agent.runtime.startup import (
    camera_specs,
    connect,
    keys_for,
    redis_for,
    redis_url_for,
    stop_on_signals,
)
from streams.ingest.registry import stored_specs

if TYPE_CHECKING:
    from agent.runtime.service import Roles

app = typer.Typer(help="Vigil: real-time video analytics over your cameras.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks measured against a baseline in the same run.")
app.add_typer(bench_app, name="bench")
keys_app = typer.Typer(help="API keys: bearer tokens with the read or admin scope.")
app.add_typer(keys_app, name="keys")

log = logging.getLogger("vigil")

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="vigil.yaml (default: $VIGIL_CONFIG, ./vigil.yaml)"),
]


def _settings(config: Path | None) -> VigilSettings:
    try:
        settings = load_settings(config)
    except ConfigError as error:
        typer.echo(f"vigil: {error}", err=True)
        raise typer.Exit(2) from None
    configure_logging(settings.log_level)
    return settings


def _heartbeat(settings: VigilSettings, role: str) -> AbstractContextManager[Heartbeat]:
    """The role's heartbeat file, which its liveness probe reads (agent/runtime/liveness.py)."""
    return heartbeat_written(heartbeat_file(settings.data_dir, role))


def _roles(**parts: bool) -> Roles:
    # The reasoning side (API, engines, webhooks) is imported only by the commands that
    # run it: `vigil ingest` stays small (one ingest process per few cameras).
    from agent.runtime.service import Roles

    return Roles(**parts)


def _run_agents(
    settings: VigilSettings,
    url: str,
    stop: threading.Event,
    roles: Roles,
    emit: Callable[[str], None] = print,
    heartbeat: Heartbeat | None = None,
    ingest: ShardedIngest | None = None,
) -> None:
    """The roles under their supervisor; a configuration error a part meets ends the
    process with exit code 2, like one found in the settings."""
    from agent.runtime.service import run_agents

    try:
        run_agents(settings, url, stop, roles, emit=emit, heartbeat=heartbeat, ingest=ingest)
    except ConfigError as error:
        typer.echo(f"vigil: {error}", err=True)
        raise typer.Exit(2) from None


def _run_role(settings: VigilSettings, role: str, roles: Roles) -> None:
    """One part of the reasoning side, on the configured Redis, with its heartbeat."""
    with (
        _heartbeat(settings, role) as heartbeat,
        redis_url_for(settings, start_embedded=False) as url,
    ):
        _run_agents(settings, url, stop_on_signals(), roles, heartbeat=heartbeat)


@app.command()
def ingest(config: ConfigOption = None) -> None:
    """Read cameras into the rolling frame buffer, sharing them with other ingest shards."""
    settings = _settings(config)
    stop = stop_on_signals()
    with (
        _heartbeat(settings, "ingest") as heartbeat,
        redis_for(settings) as client,
        ingest_from_store(settings, client) as shard,
    ):
        follow_store(shard, stop, heartbeat.went_round)
        log.info("stopping ingest")


@app.command()
def up(
    config: ConfigOption = None,
    verbose: Annotated[bool, typer.Option(help="Keep vLLM's own INFO logging.")] = False,
) -> None:
    """Run everything on this machine: ingest, scheduler, worker; print alerts as they happen."""
    settings = _settings(config)
    if not verbose:
        quiet_engine_logs()
    stop = stop_on_signals()
    with (
        _heartbeat(settings, "up") as heartbeat,
        redis_url_for(settings) as url,
        connect(url, settings.redis_cluster) as client,
        ingest_from_store(settings, client) as shard,
    ):
        typer.echo(first_start_banner(settings, url))
        roles = _roles(
            alert_feed=True, api=True, dispatcher=True, mqtt=settings.mqtt is not None,
            archiver=True,
        )  # fmt: skip
        _run_agents(settings, url, stop, roles, typer.echo, heartbeat, ingest=shard)


@app.command()
def scheduler(config: ConfigOption = None) -> None:
    """Cut the cameras' frames into clip windows and queue them for the workers."""
    _run_role(_settings(config), "scheduler", _roles(scheduler=True, worker=False))


@app.command()
def worker(config: ConfigOption = None) -> None:
    """Take window jobs from the queue and run them through the engine."""
    _run_role(_settings(config), "worker", _roles(scheduler=False, worker=True))


@app.command()
def api(config: ConfigOption = None) -> None:
    """Serve the HTTP API and dashboard; /v1/ask uses the configured vLLM servers
    (engine.kind: openai); an in-process engine answers only under `vigil up`."""
    settings = _settings(config)
    with redis_url_for(settings, start_embedded=False) as url:
        roles = _roles(scheduler=False, worker=False, api=True)
        _run_agents(settings, url, stop_on_signals(), roles)


@app.command()
def dispatcher(config: ConfigOption = None) -> None:
    """Deliver alert events to the webhook subscriptions, signed, with retries."""
    roles = _roles(scheduler=False, worker=False, dispatcher=True)
    _run_role(_settings(config), "dispatcher", roles)


@app.command()
def mqtt(config: ConfigOption = None) -> None:
    """Publish alerts, per-rule state and Home Assistant discovery to the MQTT broker."""
    settings = _settings(config)
    if settings.mqtt is None:
        typer.echo("vigil: the configuration has no mqtt section (see README)", err=True)
        raise typer.Exit(2)
    _run_role(settings, "mqtt", _roles(scheduler=False, worker=False, mqtt=True))


@app.command()
def archiver(config: ConfigOption = None) -> None:
    """Keep what every camera saw: commit window captions, verdicts and thumbnails to the
    archive, and apply its retention."""
    _run_role(_settings(config), "archiver", _roles(scheduler=False, worker=False, archiver=True))


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="Who or what uses the key.")],
    scope: Annotated[Scope, typer.Option(help="read, or admin to change things.")] = Scope.READ,
    config: ConfigOption = None,
) -> None:
    """Create an API key and print its token (shown once: store it now)."""
    from agent.cli.keys import create_key

    create_key(_settings(config), name, scope)


@keys_app.command("list")
def keys_list(config: ConfigOption = None) -> None:
    """List API keys (names and scopes; tokens are not stored)."""
    from agent.cli.keys import list_keys

    list_keys(_settings(config))


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (key_…).")],
    config: ConfigOption = None,
) -> None:
    """Revoke an API key: its token stops working at once."""
    from agent.cli.keys import revoke_key

    revoke_key(_settings(config), key_id)


@app.command()
def cameras(config: ConfigOption = None) -> None:
    """Print each camera's ingest health."""
    settings = _settings(config)
    with redis_for(settings, start_embedded=False) as client:
        keys = keys_for(settings)
        specs = stored_specs(client, keys, settings.ingest) or camera_specs(settings)
        print_camera_table(client, keys, [spec.id for spec in specs])


@bench_app.command("pipeline")
def bench_pipeline(
    cameras: Annotated[int, typer.Option(min=1, help="Simulated cameras.")] = 100,
    windows: Annotated[int, typer.Option(min=1, help="Windows per camera.")] = 3,
    concurrency: Annotated[int, typer.Option(min=1, help="Jobs in flight.")] = 16,
    cluster_url: Annotated[
        str | None,
        typer.Option(help="A Redis Cluster node: also run there, beside the private server."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Windows/s and control-plane CPU per window, with an engine that answers at once."""
    from agent.bench.pipeline import BenchConfig, main

    main(BenchConfig(cameras, windows, concurrency, cluster_url), as_json)


@bench_app.command("webhooks")
def bench_webhooks(
    receivers: Annotated[int, typer.Option(min=2, help="Receivers; the first is slow.")] = 10,
    rate: Annotated[float, typer.Option(min=1, help="Events per second.")] = 200.0,
    seconds: Annotated[float, typer.Option(min=1, help="How long events are sent.")] = 10.0,
    slow_delay_s: Annotated[float, typer.Option(help="The slow receiver's answer time.")] = 0.25,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Webhook deliveries/s and p50/p99 latency to local receivers, one of them slow."""
    from agent.bench.webhooks import BenchConfig, main

    main(BenchConfig(receivers, rate, seconds, slow_delay_s), as_json)


@bench_app.command("mqtt")
def bench_mqtt(
    rate: Annotated[float, typer.Option(min=1, help="Alert events per second.")] = 200.0,
    seconds: Annotated[float, typer.Option(min=1, help="How long events are sent.")] = 20.0,
    cameras: Annotated[int, typer.Option(min=1, help="Cameras the events are spread over.")] = 50,
    webhook_receivers: Annotated[
        int, typer.Option(min=0, help="Receivers of the webhooks run (first slow); 0: none.")
    ] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """MQTT events/s and p50/p95/p99 latency to a QoS 1 subscriber, beside webhooks'."""
    from agent.bench.mqtt import BenchConfig, main

    if webhook_receivers == 1:
        raise typer.BadParameter(
            "0 (no webhooks run) or 2 and more", param_hint="--webhook-receivers"
        )
    main(BenchConfig(rate, seconds, cameras, webhook_receivers), as_json)


@bench_app.command("archive")
def bench_archive(
    rows: Annotated[
        int, typer.Option(min=100, help="Windows in the searched archive.")
    ] = 1_000_000,
    cameras: Annotated[int, typer.Option(min=1, help="Cameras the windows belong to.")] = 100,
    days: Annotated[float, typer.Option(min=1, help="Days the windows are spread over.")] = 28.0,
    still_share: Annotated[
        float, typer.Option(min=0, max=0.95, help="Share of windows skipped as still.")
    ] = 0.5,
    queries: Annotated[int, typer.Option(min=1, help="Searches timed, one camera-day each.")] = 50,
    commit_rows: Annotated[int, typer.Option(min=100, help="Windows per committer run.")] = 3_000,
    alerts_per_round: Annotated[
        int, typer.Option(min=1, help="Alerts opened, closed and moved per retention round.")
    ] = 40,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Windows committed/s through the archiver, search p50/p95 over the archive beside an
    exact scan, archive bytes per camera-day, and Redis bytes per alert after retention."""
    from agent.bench.archive import BenchConfig, main

    config = BenchConfig(rows, cameras, days, still_share, queries, commit_rows, alerts_per_round)
    main(config, as_json)


@bench_app.command("ingest")
def bench_ingest(
    streams: Annotated[int, typer.Option(min=1, help="Concurrent streams.")] = 4,
    seconds: Annotated[float, typer.Option(min=1, help="Content seconds per stream.")] = 20.0,
    resolutions: Annotated[str, typer.Option(help="e.g. 720p,1080p")] = "720p,1080p",
    repeats: Annotated[int, typer.Option(min=1, help="Alternations; medians are kept.")] = 3,
    source: Annotated[str, typer.Option(help="file, or whep (WebRTC, in real time).")] = "file",
    decode: Annotated[str, typer.Option(help="Ingest's decode mode: exact or fast.")] = "exact",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """CPU of ingest beside a bare decode of the same streams, Redis bytes per camera-hour,
    the decode modes' kept frames against a full decode, and an ingest process's memory."""
    from agent.bench.ingest import BenchConfig, main

    resolution_names = tuple(resolutions.split(","))
    main(BenchConfig(streams, seconds, resolution_names, repeats, source, decode), as_json)


@app.command()
def ask(
    question: Annotated[str, typer.Option("--question", "-q", help="What to ask.")],
    video: Annotated[Path | None, typer.Option(help="A local video file (offline).")] = None,
    camera: Annotated[str | None, typer.Option(help="A camera id (frames from Redis).")] = None,
    seconds: Annotated[float, typer.Option(min=1, help="Recent seconds of the camera.")] = 8.0,
    max_frames: Annotated[int, typer.Option(min=2, help="Frames sent at most.")] = 64,
    test_model: Annotated[bool, typer.Option(help="Tiny random-weight model on CPU.")] = False,
    config: ConfigOption = None,
) -> None:
    """Ask the reasoning model a question about a video file or a camera's recent frames."""
    from agent.cli.ask import ask_command

    ask_command(_settings(config), question, video, camera, seconds, max_frames, test_model)


@app.command()
def report(
    camera: Annotated[
        list[str] | None, typer.Option("--camera", help="A camera id; repeat it. None: all.")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Epoch s or ISO time; default until-24h.")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Epoch s or ISO time; default now.")] = None,
    pixel_engine: Annotated[bool, typer.Option(help="The pixel test engine writes it.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    config: ConfigOption = None,
) -> None:
    """Print a report of what happened on cameras over a period, from the archive."""
    from agent.cli.report import report_command

    report_command(_settings(config), camera or [], since, until, pixel_engine, as_json)


@app.command("eval")
def eval_(
    labels: Annotated[Path | None, typer.Argument(help="The labelled set (labels.yaml).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    pixel_engine: Annotated[bool, typer.Option(help="The pixel test engine, in-process.")] = False,
    from_feedback: Annotated[
        bool, typer.Option(help="The set made from feedback on the rule's archived clips.")
    ] = False,
    rule: Annotated[str | None, typer.Option(help="The rule, with --from-feedback.")] = None,
    since: Annotated[
        str | None, typer.Option(help="Feedback on alerts since (epoch s or ISO time).")
    ] = None,
    rule_file: Annotated[
        Path | None, typer.Option(help="A changed rule (YAML) judged beside the rule now.")
    ] = None,
    export: Annotated[
        Path | None, typer.Option(help="Write the feedback set (videos + YAML) here; no run.")
    ] = None,
    at_once: Annotated[
        int, typer.Option(min=1, max=100, help="Feedback clips played at once (real time).")
    ] = 25,
    config: ConfigOption = None,
) -> None:
    """Play a labelled set through the real pipeline and compare its alerts with the truth."""
    if from_feedback == (labels is not None) or from_feedback != (rule is not None):
        raise typer.BadParameter("give a labels file, or --from-feedback with --rule")
    if not from_feedback and (since or rule_file or export):
        raise typer.BadParameter("--since, --rule-file and --export go with --from-feedback")
    if labels is not None:
        from agent.cli.eval import eval_command

        eval_command(_settings(config), labels, as_json, pixel_engine)
        return
    from agent.cli.feedback_eval import feedback_eval_command

    assert rule is not None
    feedback_eval_command(_settings(config), rule, since, rule_file, export, as_json, pixel_engine)


@bench_app.command("feedback")
def bench_feedback(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    alerts: Annotated[int, typer.Option(min=2, max=500, help="Alerts with feedback.")] = 50,
) -> None:
    """A labelled set from 50 alerts' feedback, built and run: time, clip bytes, before/after."""
    from agent.bench.feedback import main

    main(as_json, alerts)


@bench_app.command("reports")
def bench_reports(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """A report over a simulated day of ten cameras: time, engine calls, alerts shown."""
    from agent.bench.reports import main

    main(as_json)


@bench_app.command("alerts")
def bench_alerts(
    http: Annotated[bool, typer.Option(help="Pixel model server behind the HTTP engine.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Recall, latency and engine calls of the real pipeline on the bundled footage."""
    from agent.bench.alerts import main

    main(http, as_json)


@bench_app.command("soak")
def bench_soak(
    minutes: Annotated[float, typer.Option(min=1, help="Run length; faults scale to it.")] = 30.0,
    drain_s: Annotated[float, typer.Option(min=0, help="Longest wait for the backlog.")] = 120.0,
    logs: Annotated[Path | None, typer.Option(help="Copy the roles' logs here.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """The roles apart under injected faults: deaths, losses, recall, memory growth, /healthz."""
    from agent.bench.soak import SoakConfig, main

    main(SoakConfig(minutes, drain_s, logs=logs), as_json)


@bench_app.command("engine")
def bench_engine(
    frames: Annotated[int, typer.Option(min=2, help="Frames per window.")] = 32,
    max_pixels: Annotated[int, typer.Option(help="Picture budget, strip excluded.")] = 448 * 252,
    repeats: Annotated[int, typer.Option(min=1, help="Windows timed; medians kept.")] = 30,
    model_call: Annotated[bool, typer.Option(help="Time a call on the tiny CPU model.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Worker cost per window (Redis read to request payload) beside a baseline and a call."""
    from agent.bench.engine import BenchConfig, main

    main(BenchConfig(frames, 4.0, max_pixels, 85, repeats, model_call), as_json)
