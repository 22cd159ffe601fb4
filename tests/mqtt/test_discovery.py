"""Home Assistant discovery against a real Mosquitto: devices follow the stores, and a
restarted Home Assistant gets discovery and state again."""

from __future__ import annotations

import json
from typing import Any

import aiomqtt
import redis.asyncio as aioredis

from agent.pipeline.cameras_store import CameraStore
from agent.pipeline.rules import Rule
from agent.pipeline.rules_store import RuleStore
from agent.reports.delivery import deliver
from agent.reports.models import Report
from agent.runtime.embedded_mosquitto import EmbeddedMosquitto
from streams.bus.keys import Keys
from tests.mqtt.conftest import RULE, mqtt_settings, running_publisher, seed, subscribed, until

OTHER_RULE = Rule(id="smoke", question="Is there smoke?", cameras=["dock"])


def names(keys: Keys) -> tuple[str, str]:
    """The test's topic prefix and discovery prefix, apart from every other test's."""
    prefix = keys.prefix.rstrip(":")
    return prefix, f"ha-{prefix}"


def document(payload: str | None) -> dict[str, Any]:
    return json.loads(payload) if payload else {}


async def test_each_camera_is_a_device_with_a_sensor_per_rule(
    aclient: aioredis.Redis, keys: Keys, mosquitto: EmbeddedMosquitto
) -> None:
    await seed(aclient, keys)
    prefix, home = names(keys)
    settings = mqtt_settings(mosquitto.port, prefix, discovery_prefix=home)
    camera_topic = f"{home}/device/{prefix}_dock/config"
    async with (
        running_publisher(aclient, keys, settings),
        subscribed(mosquitto.port, f"{home}/#") as seen,
    ):
        await until(lambda: seen.latest(camera_topic) is not None, "the camera's device")
        service = document(seen.latest(f"{home}/device/{prefix}/config"))
    camera = document(seen.latest(camera_topic))
    assert camera["dev"]["via_device"] == service["dev"]["ids"][0] == prefix
    assert camera["o"]["name"] == "Vigil"
    assert camera["availability_mode"] == "all"
    assert [a["topic"] for a in camera["availability"]] == [
        f"{prefix}/available", f"{prefix}/dock/status",
    ]  # fmt: skip
    sensor = camera["cmps"]["rule_lane"]
    assert sensor["p"] == "binary_sensor"
    assert sensor["state_topic"] == f"{prefix}/dock/lane/state"
    assert sensor["json_attributes_topic"] == f"{prefix}/dock/lane/attributes"
    assert (sensor["payload_on"], sensor["payload_off"]) == ("ON", "OFF")
    assert sensor["unique_id"] == f"{prefix}_dock__rule_lane"
    assert sensor["device_class"] == "occupancy"
    image = camera["cmps"]["snapshot_lane"]
    assert (image["p"], image["content_type"]) == ("image", "image/jpeg")
    assert image["image_topic"] == f"{prefix}/dock/lane/snapshot"


async def test_deleting_a_rule_or_a_camera_removes_its_entities_and_their_state(
    aclient: aioredis.Redis, keys: Keys, mosquitto: EmbeddedMosquitto
) -> None:
    await seed(aclient, keys)
    await RuleStore(aclient, keys).put(OTHER_RULE)
    prefix, home = names(keys)
    settings = mqtt_settings(mosquitto.port, prefix, discovery_prefix=home)
    topic = f"{home}/device/{prefix}_dock/config"
    lane_state = f"{prefix}/dock/lane/state"
    async with (
        running_publisher(aclient, keys, settings),
        subscribed(mosquitto.port, "#") as seen,
    ):

        def sensors() -> set[str]:
            components = document(seen.latest(topic)).get("cmps", {})
            return {key for key, c in components.items() if c["p"] == "binary_sensor"}

        await until(lambda: sensors() == {"rule_lane", "rule_smoke"}, "both rules")
        await until(lambda: seen.latest(lane_state) == "OFF", "the rule's state")
        await RuleStore(aclient, keys).delete(RULE.id)
        await until(lambda: sensors() == {"rule_smoke"}, "the rule gone from the device")
        await until(lambda: seen.latest(lane_state) == "", "the rule's state cleared")
        # Home Assistant removes a device's entity when its component comes with only
        # its platform, once: then the component is left out.
        removals = [document(p)["cmps"].get("rule_lane") for p in seen.payloads(topic) if p]
        assert {"p": "binary_sensor"} in removals
        assert removals[-1] is None
        await RuleStore(aclient, keys).put(Rule(id="spill", question="Is there a spill?"))
        await until(
            lambda: seen.latest(f"{prefix}/dock/spill/state") == "OFF", "a new rule's state"
        )
        report = Report(
            id="night-1", cameras=["dock"], since=0.0, until=1.0, created_at=1.0, notable=False,
            counts=[], timeline=[], summary="Nothing notable.", windows=[], cited=[],
        )  # fmt: skip
        await deliver(aclient, keys, report, once=False)
        last_report = f"{prefix}/dock/last_report"
        await until(lambda: bool(seen.latest(last_report)), "the camera's last report")
        await CameraStore(aclient, keys).delete("dock")
        await until(lambda: seen.latest(topic) == "", "the device removed")
        await until(lambda: seen.latest(f"{prefix}/dock/status") == "", "its status cleared")
        await until(lambda: seen.latest(last_report) == "", "its last report cleared")
        assert seen.latest(f"{prefix}/dock/smoke/attributes") in (None, "")


async def test_home_assistant_coming_back_gets_discovery_and_state_again(
    aclient: aioredis.Redis, keys: Keys, mosquitto: EmbeddedMosquitto
) -> None:
    await seed(aclient, keys)
    prefix, home = names(keys)
    settings = mqtt_settings(mosquitto.port, prefix, discovery_prefix=home, status_poll_s=60.0)
    config, state = f"{home}/device/{prefix}_dock/config", f"{prefix}/dock/lane/state"
    async with running_publisher(aclient, keys, settings), subscribed(mosquitto.port, "#") as seen:
        await until(lambda: len(seen.payloads(state)) == 1, "the first state")
        async with aiomqtt.Client("127.0.0.1", mosquitto.port) as home_assistant:
            await home_assistant.publish(f"{home}/status", "online", qos=1)
        await until(lambda: len(seen.payloads(state)) == 2, "the state again")
        assert len(seen.payloads(config)) == 2


async def test_a_rules_zones_reach_its_sensor_name_and_attributes(
    aclient: aioredis.Redis, keys: Keys, mosquitto: EmbeddedMosquitto
) -> None:
    await seed(aclient, keys)
    zoned = Rule(id="spill", question="Is there a spill?", cameras=["dock"], zones=["lane"])
    await RuleStore(aclient, keys).put(zoned)
    prefix, home = names(keys)
    settings = mqtt_settings(mosquitto.port, prefix, discovery_prefix=home)
    config, spill = f"{home}/device/{prefix}_dock/config", f"{prefix}/dock/spill/attributes"

    def spill_name() -> str | None:
        return document(seen.latest(config)).get("cmps", {}).get("rule_spill", {}).get("name")

    async with running_publisher(aclient, keys, settings), subscribed(mosquitto.port, "#") as seen:
        await until(lambda: document(seen.latest(spill)) == {"zones": ["lane"]}, "the zones")
        assert spill_name() == "spill \N{EM DASH} zone lane"
        assert document(seen.latest(f"{prefix}/dock/lane/attributes")) == {"zones": []}
        await RuleStore(aclient, keys).put(zoned.model_copy(update={"zones": ["lane", "dock"]}))
        await until(lambda: document(seen.latest(spill)) == {"zones": ["lane", "dock"]}, "edit")
        await until(lambda: spill_name() == "spill \N{EM DASH} zones lane, dock", "the new name")
