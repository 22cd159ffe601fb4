"""Switching cameras and rules from MQTT against a real Mosquitto and Redis: commands go
through the stores the API reads, are answered on the retained state, and are refused
when off, not allowed, malformed, retained or about something unknown."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import aiomqtt
import pytest
import redis.asyncio as aioredis

from agent.mqtt.settings import MqttSettings
from agent.pipeline.cameras_store import CameraStore
from agent.pipeline.rules_store import RuleStore
from agent.runtime.embedded_mosquitto import EmbeddedMosquitto
from streams.bus.keys import Keys
from tests.mqtt.conftest import (
    RULE,
    mqtt_settings,
    running_publisher,
    seed,
    subscribed,
    topic_prefix,
    until,
)


async def command(port: int, topic: str, payload: str, retain: bool = False) -> None:
    async with aiomqtt.Client("127.0.0.1", port) as mqtt:
        await mqtt.publish(topic, payload, qos=1, retain=retain)


def switch_ids(config: str | None) -> set[str] | None:
    """The switches in a camera's config (None: no config yet), removed ones left out."""
    if not config:
        return None
    components = json.loads(config)["cmps"]
    return {key for key, c in components.items() if c["p"] == "switch" and len(c) > 1}


async def camera_components(
    client: aioredis.Redis, keys: Keys, settings: MqttSettings, topic: str, switches: set[str]
) -> dict[str, Any]:
    """A publisher's camera config once it holds these switches (a config an earlier
    publisher left retained arrives first)."""
    async with (
        running_publisher(client, keys, settings),
        subscribed(settings.port, topic) as seen,
    ):
        await until(lambda: switch_ids(seen.latest(topic)) == switches, f"switches {switches}")
        components: dict[str, Any] = json.loads(seen.latest(topic) or "{}")["cmps"]
        return components


async def dock_disabled_on_lane(client: aioredis.Redis, keys: Keys) -> bool:
    rule = await RuleStore(client, keys).get(RULE.id)
    assert rule is not None
    return "dock" in rule.disabled_cameras


async def test_a_rule_is_switched_on_one_camera_and_answered_on_its_state(
    aclient: aioredis.Redis, keys: Keys, mosquitto: EmbeddedMosquitto
) -> None:
    await seed(aclient, keys)
    prefix = topic_prefix(keys)
    settings = mqtt_settings(mosquitto.port, prefix, commands=True)
    state = f"{prefix}/dock/lane/enabled/state"
    async with (
        running_publisher(aclient, keys, settings),
        subscribed(mosquitto.port, f"{prefix}/#") as seen,
    ):
        await until(lambda: seen.latest(state) == "ON", "the switch's first state")
        await command(mosquitto.port, f"{prefix}/dock/lane/enabled/set", "OFF")
        await until(lambda: seen.latest(state) == "OFF", "the switch off")
        assert await dock_disabled_on_lane(aclient, keys)
        await command(mosquitto.port, f"{prefix}/dock/lane/enabled/set", "ON")
        await until(lambda: seen.latest(state) == "ON", "the switch on again")
        assert not await dock_disabled_on_lane(aclient, keys)


async def test_a_camera_is_switched_and_a_change_from_the_api_is_answered_too(
    aclient: aioredis.Redis, keys: Keys, mosquitto: EmbeddedMosquitto
) -> None:
    await seed(aclient, keys)
    prefix, cameras = topic_prefix(keys), CameraStore(aclient, keys)
    settings = mqtt_settings(mosquitto.port, prefix, commands=True)
    state = f"{prefix}/dock/enabled/state"
    async with (
        running_publisher(aclient, keys, settings),
        subscribed(mosquitto.port, f"{prefix}/#") as seen,
    ):
        await until(lambda: seen.latest(state) == "ON", "the camera's switch")
        await command(mosquitto.port, f"{prefix}/dock/enabled/set", "OFF")
        await until(lambda: seen.latest(state) == "OFF", "the camera off")
        camera = await cameras.get("dock")
        assert camera is not None
        assert not camera.enabled
        assert camera.url.get_secret_value() == "rtsp://127.0.0.1/dock"  # kept as it was
        await cameras.put(camera.model_copy(update={"enabled": True}))  # as the API does
        await until(lambda: seen.latest(state) == "ON", "the API's change published")


@pytest.mark.parametrize(
    ("overrides", "topic", "payload", "retain", "logged"),
    [
        ({}, "dock/lane/enabled/set", "OFF", False, None),  # off by default: not subscribed
        ({"commands": True, "command_allow": ["gate"]}, "dock/lane/enabled/set", "OFF", False,
         "refused"),
        ({"commands": True, "command_allow": ["dock/lane"]}, "dock/enabled/set", "OFF", False,
         "refused"),
        ({"commands": True}, "dock/lane/enabled/set", "MAYBE", False, "must be ON or OFF"),
        ({"commands": True}, "dock/lane/enabled/set", "OFF", True, "must not be retained"),
        ({"commands": True}, "dock/nosuchrule/enabled/set", "OFF", False, "no such"),
        ({"commands": True}, "nosuchcamera/enabled/set", "OFF", False, "no such"),
    ],
    ids=["off", "camera-not-allowed", "rule-only", "malformed", "retained", "rule", "camera"],
)  # fmt: skip
async def test_a_refused_command_changes_nothing(
    aclient: aioredis.Redis,
    keys: Keys,
    mosquitto: EmbeddedMosquitto,
    caplog: pytest.LogCaptureFixture,
    overrides: dict[str, object],
    topic: str,
    payload: str,
    retain: bool,
    logged: str | None,
) -> None:
    await seed(aclient, keys)
    prefix = topic_prefix(keys)
    settings = mqtt_settings(mosquitto.port, prefix, **overrides)
    before = (await RuleStore(aclient, keys).all(), await CameraStore(aclient, keys).all())
    caplog.set_level(logging.WARNING, logger="agent.mqtt")
    if retain:  # left on the broker before the publisher subscribed: replayed to it
        await command(mosquitto.port, f"{prefix}/{topic}", payload, retain=True)
    async with running_publisher(aclient, keys, settings):
        await until_online(mosquitto.port, prefix)
        if not retain:
            await command(mosquitto.port, f"{prefix}/{topic}", payload)
        if logged is None:
            await asyncio.sleep(1.0)
        else:
            await until(lambda: any(logged in r.getMessage() for r in caplog.records), logged)
    after = (await RuleStore(aclient, keys).all(), await CameraStore(aclient, keys).all())
    assert after == before
    if retain:
        await command(mosquitto.port, f"{prefix}/{topic}", "", retain=True)  # clear it


async def until_online(port: int, prefix: str) -> None:
    async with subscribed(port, f"{prefix}/available") as seen:
        await until(lambda: seen.latest(f"{prefix}/available") == "online", "online")


def test_the_allow_list_names_cameras_or_camera_rule_pairs() -> None:
    settings = MqttSettings(url="mqtt://broker", commands=True, command_allow=["dock", "*/lane"])
    assert settings.may_command("dock")
    assert settings.may_command("dock", "smoke")
    assert settings.may_command("gate", "lane")
    assert not settings.may_command("gate")
    assert not settings.may_command("gate", "smoke")
    assert not MqttSettings(url="mqtt://broker").may_command("dock")  # off by default
    with pytest.raises(ValueError, match="camera id or camera/rule"):
        MqttSettings(url="mqtt://broker", command_allow=["a/b/c"])


async def test_switches_are_discovered_only_with_commands_on(
    aclient: aioredis.Redis, keys: Keys, mosquitto: EmbeddedMosquitto
) -> None:
    await seed(aclient, keys)
    prefix = topic_prefix(keys)
    home = f"ha-{prefix}"
    topic = f"{home}/device/{prefix}_dock/config"
    for commands, expected in ((False, set()), (True, {"switch_lane", "camera_switch"})):
        settings = mqtt_settings(mosquitto.port, prefix, discovery_prefix=home, commands=commands)
        components = await camera_components(aclient, keys, settings, topic, expected)
    camera_switch = components["camera_switch"]
    assert camera_switch["command_topic"] == f"{prefix}/dock/enabled/set"
    assert camera_switch["availability"] == [{"topic": f"{prefix}/available"}]
    assert camera_switch["entity_category"] == "config"
    assert components["switch_lane"]["state_topic"] == f"{prefix}/dock/lane/enabled/state"
    assert components["switch_lane"]["entity_category"] == "config"
