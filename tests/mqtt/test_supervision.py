"""The reported failure, under what `vigil up` runs (ingest of the demo footage in its
supervised thread, scheduler, API, MQTT publisher against a real Mosquitto): an outbox event
whose alert record has evidence that is not JSON is dead-lettered by the MQTT relay, while
the scheduler keeps queueing windows and /healthz stays 200; a part that keeps crashing
makes /healthz and /readyz answer 503 naming it, while the others go on."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import redis

from agent.mqtt.publisher import MqttPublisher
from agent.mqtt.settings import MqttSettings
from agent.pipeline.progress import Progress
from agent.runtime.embedded_mosquitto import EmbeddedMosquitto
from agent.runtime.embedded_redis import EmbeddedRedis
from agent.runtime.ingest import ingest_from_store
from agent.runtime.service import Roles, run_agents
from agent.runtime.startup import connect
from streams.bus.keys import Keys
from tests.dashboard.conftest import settings_for

WAIT_S = 30.0
ROLES = Roles(scheduler=True, worker=False, api=True, mqtt=True)


@contextmanager
def vigil_up(redis_url: str, keys: Keys, data_dir: Path, broker_port: int) -> Iterator[str]:
    """The parts in a thread, as `vigil up` runs them; yields the API's address."""
    mqtt = MqttSettings(
        url=f"mqtt://127.0.0.1:{broker_port}", prefix=keys.prefix.rstrip(":"),
        status_poll_s=0.2, backoff_initial_s=0.1, backoff_cap_s=0.5,
    )  # fmt: skip
    settings = settings_for(redis_url, keys, data_dir).model_copy(update={"mqtt": mqtt})
    stop = threading.Event()
    with connect(redis_url) as client, ingest_from_store(settings, client) as shard:
        agents = threading.Thread(
            target=run_agents,
            args=(settings, redis_url, stop, ROLES),
            kwargs={"emit": lambda _: None, "ingest": shard},
            daemon=True,
        )
        agents.start()
        try:
            url = settings.api.base_url()
            until(lambda: answers(url), "the API answering")
            yield url
        finally:
            stop.set()
            agents.join(20)
    assert not agents.is_alive()


def until(condition: Callable[[], bool], what: str, timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def answers(url: str) -> bool:
    try:
        httpx.get(f"{url}/healthz", timeout=1.0, trust_env=False)
    except httpx.TransportError:
        return False
    return True


def latest_window(client: redis.Redis, keys: Keys) -> int:
    return int(client.hget(keys.schedule("street"), "latest_ms") or 0)


def poison_event(client: redis.Redis, keys: Keys) -> None:
    """An alert whose evidence is not JSON, and its event in the outbox."""
    alert = {"id": "al_poison", "camera": "street", "rule": "person", "evidence": "{oops"}
    client.hset(keys.alert("al_poison"), mapping=alert)  # type: ignore[arg-type]
    client.xadd(keys.outbox, {"type": "alert.opened", "alert_id": "al_poison"})


def test_an_unparseable_alert_is_dead_lettered_and_the_pipeline_goes_on(
    redis_server: EmbeddedRedis,
    mosquitto: EmbeddedMosquitto,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    keys = Keys(prefix=f"poison-{uuid.uuid4().hex[:8]}:")
    client = redis.Redis.from_url(redis_server.url)
    with vigil_up(redis_server.url, keys, tmp_path_factory.mktemp("vigil"), mosquitto.port) as url:
        until(lambda: latest_window(client, keys) > 0, "a first window queued")
        poison_event(client, keys)
        until(lambda: client.xlen(keys.dead_mqtt) == 1, "the event dead-lettered")
        [(_, dead)] = client.xrange(keys.dead_mqtt)
        assert b"does not parse" in dead[b"error"]
        queued_then = latest_window(client, keys)
        until(lambda: latest_window(client, keys) > queued_then, "windows queued after it")
        health = httpx.get(f"{url}/healthz", trust_env=False)
        assert (health.status_code, health.json()) == (200, {"status": "ok"})
        assert client.hget(keys.metrics, "part_restarts:mqtt") is None  # it never crashed
    client.close()


def test_a_part_that_keeps_crashing_is_named_by_the_probes_while_the_others_go_on(
    redis_server: EmbeddedRedis,
    mosquitto: EmbeddedMosquitto,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def crashing(self: MqttPublisher, stop: object, progress: Progress) -> None:
        progress("mqtt")
        raise RuntimeError("publisher bug")

    monkeypatch.setattr(MqttPublisher, "run", crashing)
    keys = Keys(prefix=f"crash-{uuid.uuid4().hex[:8]}:")
    client = redis.Redis.from_url(redis_server.url)
    data_dir = tmp_path_factory.mktemp("vigil")
    with vigil_up(redis_server.url, keys, data_dir, mosquitto.port) as url:

        def probes_name_mqtt() -> bool:
            answers = [
                httpx.get(f"{url}/{path}", trust_env=False) for path in ("healthz", "readyz")
            ]
            return all(
                answer.status_code == 503 and "mqtt" in answer.json()["parts"] for answer in answers
            )

        until(probes_name_mqtt, "both probes naming the crashing part")
        body = httpx.get(f"{url}/healthz", trust_env=False).json()
        assert body["status"] == "unhealthy"
        assert set(body["parts"]) == {"mqtt"}
        assert "RuntimeError: publisher bug" in body["parts"]["mqtt"]
        queued_then = latest_window(client, keys)
        until(lambda: latest_window(client, keys) > queued_then, "windows queued meanwhile")
        until(lambda: int(client.hget(keys.metrics, "part_restarts:mqtt") or 0) >= 2, "counts")
    client.close()
