"""MQTT in what `vigil up` runs (real ingest of the demo footage, scheduler, worker with a
scripted engine, API, publisher) against a real Mosquitto: an alert shows as the rule's
state, and switching the rule off from MQTT closes it, stops the next windows asking
it, and shows in the API; switching it on brings it back."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiomqtt
import httpx
import pytest

from agent.mqtt.settings import MqttSettings
from agent.pipeline.rules import Rule
from agent.runtime.embedded_mosquitto import EmbeddedMosquitto
from agent.runtime.embedded_redis import EmbeddedRedis
from agent.runtime.ingest import follow_store_in_background, ingest_from_store
from agent.runtime.service import Roles, run_agents
from agent.runtime.startup import connect
from streams.bus.keys import Keys
from tests.api.conftest import create_api_keys
from tests.dashboard.conftest import RecordingEngine, settings_for, wait_until_up
from tests.mqtt.conftest import WAIT_S, subscribed, until

BIKES = Rule(id="bikes", question="Are bicycles parked by the street?", cameras=["street"])


@asynccontextmanager
async def vigil_up(
    redis_url: str, keys: Keys, data_dir: Path, broker_port: int, engine: RecordingEngine
) -> AsyncIterator[httpx.AsyncClient]:
    """Runs the parts in threads, as `vigil up` does; yields an admin client of the API."""
    mqtt = MqttSettings(
        url=f"mqtt://127.0.0.1:{broker_port}", prefix=keys.prefix.rstrip(":"),
        commands=True, status_poll_s=0.2, backoff_initial_s=0.1, backoff_cap_s=0.5,
    )  # fmt: skip
    base = settings_for(redis_url, keys, data_dir)
    settings = base.model_copy(update={"mqtt": mqtt, "rules": [*base.rules, BIKES]})
    admin, _ = await asyncio.to_thread(create_api_keys, redis_url, keys, "mqtt")
    stop = threading.Event()
    with connect(redis_url) as client, ingest_from_store(settings, client) as shard:
        follow_store_in_background(shard, stop)
        agents = threading.Thread(
            target=run_agents,
            args=(settings, redis_url, stop, Roles(api=True, mqtt=True)),
            kwargs={"engine": engine, "emit": lambda _: None},
            daemon=True,
        )
        agents.start()
        try:
            url = settings.api.base_url()
            await asyncio.to_thread(wait_until_up, url)
            headers = {"Authorization": f"Bearer {admin}"}
            async with httpx.AsyncClient(base_url=url, headers=headers, trust_env=False) as api:
                yield api
        finally:
            stop.set()
            await asyncio.to_thread(agents.join, 20)


def asked_since(engine: RecordingEngine, since: float) -> list[tuple[str, ...]]:
    return [rules for at, rules in engine.asked if at > since]


async def test_switching_a_rule_from_mqtt_closes_its_alert_and_skips_it_in_windows(
    redis_server: EmbeddedRedis,
    mosquitto: EmbeddedMosquitto,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    keys = Keys(prefix=f"mqttup-{uuid.uuid4().hex[:8]}:")
    prefix, engine = keys.prefix.rstrip(":"), RecordingEngine()
    data_dir = tmp_path_factory.mktemp("vigil")
    state, switch = f"{prefix}/street/person/state", f"{prefix}/street/person/enabled"
    async with (
        vigil_up(redis_server.url, keys, data_dir, mosquitto.port, engine) as api,
        subscribed(mosquitto.port, f"{prefix}/#") as seen,
    ):

        def lifecycle() -> list[str]:
            """The alert events on the alerts topic so far, summaries left out."""
            events = [json.loads(p)["type"] for p in seen.payloads(f"{prefix}/alerts")]
            return [event for event in events if event != "summary"]

        engine.detect_from_now("person")
        await until(lambda: seen.latest(state) == "ON", "the alert on", 30)
        assert seen.latest(f"{switch}/state") == "ON"
        async with aiomqtt.Client("127.0.0.1", mosquitto.port) as operator:
            await operator.publish(f"{switch}/set", "OFF", qos=1)
            switched_off = time.time()
            await until(lambda: seen.latest(f"{switch}/state") == "OFF", "the switch off")
            await until(lambda: seen.latest(state) == "OFF", "the alert closed")
            # MQTT keeps order per topic only: the end event may follow the state.
            await until(lambda: "end" in lifecycle(), "the end event")
            assert lifecycle()[0] == "new"
            await until(lambda: len(asked_since(engine, switched_off + 1)) >= 2, "windows", 20)
            assert all(rules == ("bikes",) for rules in asked_since(engine, switched_off + 1))
            rule = (await api.get("/v1/rules/person")).json()
            assert rule["disabled_cameras"] == ["street"]
            await operator.publish(f"{switch}/set", "ON", qos=1)
            switched_on = time.time()
            await until(lambda: seen.latest(f"{switch}/state") == "ON", "the switch on")
            await until(
                lambda: any("person" in rules for rules in asked_since(engine, switched_on)),
                "a window asking the rule again", WAIT_S * 2,
            )  # fmt: skip
