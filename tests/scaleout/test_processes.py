"""Vigil spread over processes as it is over machines: two `vigil ingest` shards, one
`vigil scheduler`, three `vigil worker`s and two real vLLM CPU servers (tiny model), one
real Redis, eight cameras from one real RTSP server. Each part is killed or added while
the others run, and the windows keep flowing with none lost.

The tests run in file order against one deployment; each holds on its own whatever the
earlier ones did to it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import redis
import yaml

from agent.runtime.embedded_redis import EmbeddedRedis
from agent.runtime.liveness import heartbeat_file
from streams.buffer.frames import last_capture_s
from streams.bus.keys import WORKERS_GROUP, Keys
from tests.conftest import free_port
from tests.servers.rtsp import RtspServer
from tests.servers.vllm import SERVED_NAME, VllmServer
from tests.streams.helpers import wait_for

pytestmark = pytest.mark.engine

CAMERAS = [f"cam-{index}" for index in range(8)]
LEASE_S = 3.0
PROBE_MAX_AGE_S = 8.0
RECONNECT_S = 5.0  # connect and first frame of a camera taken over, on a loaded machine
WORKERS = ("worker-1", "worker-2", "worker-3")
WORKER_CONCURRENCY = 2
VIGIL = str(Path(sys.executable).with_name("vigil"))
WINDOW_OUTCOMES = (
    "windows_processed", "windows_shed_stale", "windows_shed_superseded", "windows_expired",
    "windows_without_rules",
)  # fmt: skip


def config_for(redis_url: str, keys: Keys, rtsp: RtspServer, engines: list[str]) -> dict[str, Any]:
    """vigil.yaml for every process: small frames, short windows, quick failover."""
    return {
        "redis_url": redis_url,
        "key_prefix": keys.prefix,
        "log_level": "INFO",
        "ingest": {
            "lease_s": LEASE_S, "max_pixels": 192 * 108, "backoff_initial_s": 0.2,
            "backoff_cap_s": 1.0, "connect_timeout_s": 2.0, "read_timeout_s": 2.0,
            "health_interval_s": 0.5,
        },
        "engine": {
            "kind": "openai", "model": SERVED_NAME, "base_urls": engines, "max_concurrency": 4,
            "request_timeout_s": 30.0, "connect_timeout_s": 2.0, "max_retries": 3,
            "backoff_initial_s": 0.2, "backoff_cap_s": 1.0, "unhealthy_for_s": 2.0,
            "reasoning_max_tokens": 32,
        },
        "pipeline": {
            "window_s": 4.0, "stride_s": 8.0, "motion_threshold": 0.0, "scheduler_poll_s": 0.2,
            "worker_concurrency": WORKER_CONCURRENCY, "claim_idle_s": 45.0,
            "max_window_age_s": 60.0,
        },
        "cameras": [
            {"id": camera, "url": rtsp.url(f"/{camera}")} for camera in CAMERAS
        ],
        "rules": [{"id": "person", "question": "Is a person in view?", "motion_gated": False}],
    }  # fmt: skip


@dataclass
class Deployment:
    """The processes of one Vigil deployment, each logging to a file of its own."""

    config: Path
    logs: Path
    client: redis.Redis
    keys: Keys
    rtsp: RtspServer
    engines: list[VllmServer]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)

    def start(self, name: str, role: str, **env: str) -> subprocess.Popen[bytes]:
        # Each process has a data directory of its own, as each container has, and none
        # inherits the LD_PRELOAD of torch's libgomp that vLLM's CPU platform sets in this
        # test process (it would map torch's files into processes that never import it).
        inherited = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
        env = {**inherited, "VIGIL_DATA_DIR": str(self.data_dir(name)), **env}
        with (self.logs / f"{name}.log").open("wb") as log:
            process = subprocess.Popen(
                [VIGIL, role, "--config", str(self.config)],
                stdout=log, stderr=subprocess.STDOUT, env=env,
            )  # fmt: skip
        self.processes[name] = process
        self.roles[name] = role
        return process

    def data_dir(self, name: str) -> Path:
        return self.logs / f"{name}-data"

    def alive(self, name: str, max_age_s: float) -> bool:
        return self.probe(name, max_age_s)[0]

    def probe(self, name: str, max_age_s: float) -> tuple[bool, str]:
        """The liveness probe of compose and Kubernetes, run on this process's heartbeat:
        whether it passes, and what it says."""
        heartbeat = heartbeat_file(self.data_dir(name), self.roles[name])
        probe = [sys.executable, "-m", "agent.runtime.liveness", str(heartbeat), str(max_age_s)]
        run = subprocess.run(probe, capture_output=True, text=True, timeout=30)
        return run.returncode == 0, (run.stdout + run.stderr).strip()

    def wait_alive(self, name: str, timeout_s: float, what: str) -> None:
        """Waits for the probe to pass; a failure says what it said last and why."""
        said: list[str] = []

        def alive() -> bool:
            passed, message = self.probe(name, PROBE_MAX_AGE_S)
            said[:] = [message]
            return passed

        try:
            wait_for(alive, timeout_s, what)
        except AssertionError as error:
            code = self.processes[name].poll()
            state = "still running" if code is None else f"exited with {code}"
            raise AssertionError(
                f"{error}; the probe said {said[-1]!r}; {name} is {state}; "
                f"its log: {self.log_tail(name)}"
            ) from None

    def mapped_files(self, name: str) -> str:
        """The files mapped into the process's memory: its loaded libraries among them."""
        return Path(f"/proc/{self.processes[name].pid}/maps").read_text()

    def start_shard(self, name: str) -> None:
        self.start(name, "ingest", VIGIL_INGEST__SHARD_ID=name)

    def kill(self, name: str) -> None:
        process = self.processes.pop(name)
        process.kill()
        process.wait()

    def stop(self, name: str) -> None:
        process = self.processes.pop(name)
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            pytest.fail(f"{name} did not stop on SIGTERM: {self.log_tail(name)}")

    def log_tail(self, name: str, chars: int | None = 3000) -> str:
        text = (self.logs / f"{name}.log").read_text(errors="replace")
        return text if chars is None else text[-chars:]

    def holders(self) -> dict[str, str]:
        """Camera -> the shard whose lease it is under."""
        holders = {}
        for camera in CAMERAS:
            holder = cast(bytes | None, self.client.get(self.keys.ingest_lease(camera)))
            holders[camera] = holder.decode() if holder else ""
        return holders

    def fresh(self, camera: str, since: float) -> bool:
        return last_capture_s(self.client, self.keys, camera) > since

    def counters(self) -> dict[str, int]:
        raw = cast(dict[bytes, bytes], self.client.hgetall(self.keys.metrics))
        return {name.decode(): int(value) for name, value in raw.items() if b":" not in name}

    def count(self, name: str) -> int:
        return self.counters().get(name, 0)

    def consumers(self) -> dict[str, int]:
        """Worker consumer name -> jobs it holds now."""
        infos = self.client.xinfo_consumers(self.keys.jobs, WORKERS_GROUP)
        return {info["name"].decode(): int(info["pending"]) for info in infos}

    def most_readers(self) -> dict[str, int]:
        """Camera -> the most clients that ever played its RTSP mount at once."""
        return {camera: self.rtsp.most_readers[f"/{camera}"] for camera in CAMERAS}

    def engine_requests(self, engine: VllmServer) -> int:
        return engine.log_path.read_text(errors="replace").count("POST /v1/chat/completions")

    def shutdown(self) -> None:
        for process in self.processes.values():
            process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()


@pytest.fixture(scope="module")
def deployment(
    redis_server: EmbeddedRedis, model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("scaleout")
    engines = [
        VllmServer(model_dir, free_port(), root / f"vllm-{i}.log", stats=True).start()
        for i in (0, 1)
    ]
    rtsp = RtspServer(free_port(), tuple(f"/{c}" for c in CAMERAS), size="320x180", fps=8)
    keys = Keys(prefix=f"scale-{uuid.uuid4().hex[:8]}:")
    client = redis.Redis.from_url(redis_server.url)
    try:
        rtsp.start()
        urls = [engine.wait_ready() for engine in engines]
        config = root / "vigil.yaml"
        config.write_text(yaml.safe_dump(config_for(redis_server.url, keys, rtsp, urls)))
        deployment = Deployment(config, root, client, keys, rtsp, engines)
        deployment.start("scheduler", "scheduler")
        for name in WORKERS[:2]:
            deployment.start(name, "worker")
        yield deployment
        deployment.shutdown()
    finally:
        for engine in engines:
            engine.stop()
        rtsp.kill()
        client.close()


def test_shards_split_the_cameras_and_a_killed_shard_s_move_within_the_lease(
    deployment: Deployment,
) -> None:
    deployment.start_shard("shard-a")
    wait_for(
        lambda: set(deployment.holders().values()) == {"shard-a"}, 30, "shard-a to hold all"
    )  # fmt: skip
    deployment.start_shard("shard-b")
    wait_for(
        lambda: sorted(deployment.holders().values()).count("shard-b") == len(CAMERAS) // 2,
        30, "shard-b to take half of the cameras",
    )  # fmt: skip
    split_at = time.time()
    wait_for(
        lambda: all(deployment.fresh(camera, split_at) for camera in CAMERAS),
        RECONNECT_S + LEASE_S, "frames from every camera after the split",
    )  # fmt: skip
    moved = [camera for camera, shard in deployment.holders().items() if shard == "shard-a"]

    deployment.kill("shard-a")
    killed_at = time.time()
    # Its leases lapse at most a lease after the kill; shard-b claims them on its next
    # step (every lease / 3); then each camera reconnects.
    wait_for(
        lambda: set(deployment.holders().values()) == {"shard-b"},
        LEASE_S * 4 / 3 + 0.5, "shard-b to hold shard-a's leases",
    )  # fmt: skip
    wait_for(
        lambda: all(deployment.fresh(camera, killed_at) for camera in moved),
        RECONNECT_S, "shard-a's cameras to resume on shard-b",
    )  # fmt: skip
    assert set(deployment.most_readers().values()) == {1}, deployment.most_readers()
    # Sizing frames is Vigil's own arithmetic: an ingest process never loads torch.
    assert "/torch/" not in deployment.mapped_files("shard-b")


def test_the_api_run_apart_answers_ask_through_the_vllm_servers(deployment: Deployment) -> None:
    """`vigil api` alone (as in compose and Kubernetes) has no model: /v1/ask goes to the
    configured vLLM servers, which run the real engine over the camera's recent frames."""
    if "shard-b" not in deployment.processes:
        deployment.start_shard("shard-b")
    created = subprocess.run(
        [VIGIL, "keys", "create", "--scope", "read", "--name", "ask", "--config",
         str(deployment.config)],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    token = created.stdout.split()[-1]
    port = free_port()
    deployment.start("api", "api", VIGIL_API__PORT=str(port))
    before = sum(deployment.engine_requests(engine) for engine in deployment.engines)
    answer = _ask(f"http://127.0.0.1:{port}/v1/ask", token, {"camera": CAMERAS[0]})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["frames"] >= 2
    assert body["prompt_tokens"] > 0  # the tiny model's random text need not parse
    after = sum(deployment.engine_requests(engine) for engine in deployment.engines)
    assert after > before
    deployment.stop("api")


def _ask(url: str, token: str, body: dict[str, object]) -> httpx.Response:
    request = {"question": "What is happening?", "seconds": 4, **body}
    headers = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + 60
    while True:
        try:
            return httpx.post(url, json=request, headers=headers, timeout=60)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_every_role_is_alive_and_a_wedged_one_is_reported(deployment: Deployment) -> None:
    """The heartbeat probes of the roles without HTTP pass while they run, and fail for a
    process that stops going round (SIGSTOP wedges all of it), then pass again. The
    dispatcher is the one wedged: a worker stopped past the claim time would have its jobs
    taken over and then finish them too, which test_nothing_is_lost would count twice."""
    if "shard-b" not in deployment.processes:
        deployment.start_shard("shard-b")
    deployment.start("dispatcher", "dispatcher")
    running = ["scheduler", *WORKERS[:2], "shard-b", "dispatcher"]
    for name in running:
        deployment.wait_alive(name, 60, f"{name} alive")
    # A role loads only what it runs: the API's and the archive's libraries (FastAPI,
    # LanceDB, Arrow) tripled a dispatcher's start, which on a busy machine outlasted 60 s.
    for name in ("scheduler", *WORKERS[:2], "dispatcher"):
        assert "/lancedb/" not in deployment.mapped_files(name), name
    wedged = deployment.processes["dispatcher"]
    wedged.send_signal(signal.SIGSTOP)
    try:
        wait_for(
            lambda: not deployment.alive("dispatcher", PROBE_MAX_AGE_S),
            PROBE_MAX_AGE_S + 10, "the wedged dispatcher's probe to fail",
        )  # fmt: skip
        others = [name for name in running if name != "dispatcher"]
        assert all(deployment.alive(name, PROBE_MAX_AGE_S) for name in others)
    finally:
        wedged.send_signal(signal.SIGCONT)
    deployment.wait_alive("dispatcher", 30, "it is alive again")


def test_windows_flow_to_the_other_engine_when_one_dies(deployment: Deployment) -> None:
    if "shard-b" not in deployment.processes:
        deployment.start_shard("shard-b")
    doomed, survivor = deployment.engines
    wait_for(
        lambda: min(deployment.engine_requests(engine) for engine in deployment.engines) > 0,
        120, "both engines to answer",
    )  # fmt: skip
    wait_for(lambda: doomed.requests_running() > 0, 60, "a request in flight on the doomed one")
    doomed.kill()
    answered_at_kill = deployment.engine_requests(survivor)
    processed_at_kill = deployment.count("windows_processed")
    # Windows answered before the kill may be counted as processed only after it: wait
    # past as many as the workers can have in flight.
    in_flight = WORKER_CONCURRENCY * len(WORKERS)
    wait_for(
        lambda: deployment.count("windows_processed") >= processed_at_kill + 8 + in_flight,
        120, "windows processed by the surviving engine",
    )  # fmt: skip
    assert deployment.engine_requests(survivor) >= answered_at_kill + 8
    counters = deployment.counters()
    taken_out = f"engine endpoint {doomed.base_url} taken out"
    workers = [name for name in WORKERS if name in deployment.processes]
    assert any(taken_out in deployment.log_tail(name, None) for name in workers), taken_out
    assert counters.get("jobs_dead", 0) == 0, counters
    assert counters.get("jobs_failed", 0) == 0, counters
    assert deployment.client.xlen(deployment.keys.dead_jobs) == 0


def test_a_worker_started_mid_run_takes_work(deployment: Deployment) -> None:
    before = set(deployment.consumers())
    worker = deployment.start(WORKERS[2], "worker")
    seen: set[str] = set()

    def new_consumer_holds_a_job() -> bool:
        seen.update(name for name, pending in deployment.consumers().items() if pending > 0)
        return bool(seen - before)

    wait_for(new_consumer_holds_a_job, 60, "the third worker to hold a job")
    assert worker.poll() is None, deployment.log_tail(WORKERS[2])


def test_nothing_is_lost(deployment: Deployment) -> None:
    """Once ingest stops, every window scheduled ends in exactly one recorded outcome."""
    for shard in [name for name in deployment.processes if name.startswith("shard-")]:
        deployment.stop(shard)
    jobs = deployment.keys.jobs

    def drained() -> bool:
        (group,) = deployment.client.xinfo_groups(jobs)
        return int(group["pending"]) == 0 and int(group["lag"] or 0) == 0

    time.sleep(2.0)  # the scheduler's last windows of the frames already stored
    wait_for(drained, 120, "the workers to finish every job")
    counters = deployment.counters()
    outcomes = sum(counters.get(name, 0) for name in WINDOW_OUTCOMES)
    assert counters["windows_scheduled"] > 0
    assert outcomes == counters["windows_scheduled"], counters
    assert counters.get("jobs_dead", 0) == 0, counters
    assert deployment.client.xlen(deployment.keys.dead_jobs) == 0
    assert set(deployment.most_readers().values()) == {1}, deployment.most_readers()
