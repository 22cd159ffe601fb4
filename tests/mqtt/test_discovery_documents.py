"""The discovery documents and ids as pure functions: Home Assistant's schema details, names
with zones, and ids that two cameras, two rules or two kinds of entity never share."""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from agent.mqtt import discovery, discovery_ids, topics
from agent.pipeline.alert_records import AlertRecord
from agent.pipeline.rules import Rule
from streams.config import CAMERA_ID_PATTERN, CameraConfig

PREFIX = "vigil"
DISCOVERY_ID = re.compile(r"^[A-Za-z0-9_-]+$")
# Home Assistant's valid_entity_id: no leading, trailing or doubled "_" anywhere
ENTITY_ID = re.compile(r"^(?!.+__)(?!_)[\da-z_]+(?<!_)\.(?!_)[\da-z_]+(?<!_)$")
LANE = Rule(id="lane", question="Is a person in the lane?", zones=["lane"])
CAMERA_RULE = Rule(id="camera", question="Is the camera blocked?")
CONNECTION_RULE = Rule(id="connection", question="Is the cable cut?")


def camera(camera_id: str) -> CameraConfig:
    return CameraConfig.model_validate({"id": camera_id, "url": f"rtsp://127.0.0.1/{camera_id}"})


def components(rules: list[Rule], camera_id: str = "dock") -> dict[str, dict[str, Any]]:
    config = discovery.camera_config(PREFIX, camera(camera_id), rules, commands=True)
    found: dict[str, dict[str, Any]] = json.loads(config)["cmps"]
    return found


def service_components() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = json.loads(discovery.service_config(PREFIX))["cmps"]
    return found


def every_component(rules: list[Rule], camera_ids: list[str]) -> list[dict[str, Any]]:
    """The service's components and every camera's, as Home Assistant gets them."""
    cameras = [list(components(rules, camera_id).values()) for camera_id in camera_ids]
    return list(service_components().values()) + [c for found in cameras for c in found]


def test_every_component_has_a_default_entity_id_of_its_domain() -> None:
    found = every_component([LANE, CAMERA_RULE], ["dock", "cam.1"])
    assert len(found) == 1 + 2 * (3 * 2 + 1)
    for component in found:
        entity_id = component["default_entity_id"]
        assert entity_id.startswith(component["p"] + "."), entity_id
        assert ENTITY_ID.match(entity_id), entity_id
    rule = components([LANE])["rule_lane"]
    assert rule["default_entity_id"] == "binary_sensor.vigil_dock_lane"
    assert service_components()["connection"]["default_entity_id"] == (
        "binary_sensor.vigil_connected"
    )


def test_entity_categories_and_the_rule_sensor_reads_detected_or_clear() -> None:
    found = components([LANE])
    assert found["switch_lane"]["entity_category"] == "config"
    assert found["camera_switch"]["entity_category"] == "config"
    assert service_components()["connection"]["entity_category"] == "diagnostic"
    assert "entity_category" not in found["rule_lane"]
    assert "entity_category" not in found["snapshot_lane"]
    assert found["rule_lane"]["device_class"] == "occupancy"


def test_rule_entities_are_named_for_their_zones() -> None:
    two_zones = Rule(id="spill", question="Is there a spill?", zones=["dock", "lane"])
    whole = Rule(id="smoke", question="Is there smoke?")
    found = components([LANE, two_zones, whole])
    assert found["rule_lane"]["name"] == "lane \N{EM DASH} zone lane"
    assert found["snapshot_lane"]["name"] == "lane snapshot \N{EM DASH} zone lane"
    assert found["switch_lane"]["name"] == "lane enabled \N{EM DASH} zone lane"
    assert found["rule_spill"]["name"] == "spill \N{EM DASH} zones dock, lane"
    assert found["rule_smoke"]["name"] == "smoke"
    assert found["rule_smoke"]["json_attributes_topic"] == "vigil/dock/smoke/attributes"


def test_a_rule_named_camera_keeps_apart_from_the_camera_switch() -> None:
    found = components([CAMERA_RULE])
    assert set(found) == {"rule_camera", "snapshot_camera", "switch_camera", "camera_switch"}
    assert found["camera_switch"]["command_topic"] == "vigil/dock/enabled/set"
    assert found["switch_camera"]["command_topic"] == "vigil/dock/camera/enabled/set"
    assert_all_apart(every_component([CAMERA_RULE], ["dock"]))


def test_a_rule_named_connection_keeps_apart_from_the_service_sensor() -> None:
    assert "rule_connection" in components([CONNECTION_RULE])
    assert_all_apart(every_component([CONNECTION_RULE], ["dock", "connection"]))


def test_rules_whose_ids_look_like_other_entities_keep_apart() -> None:
    look_alikes = [
        Rule(id=rule_id, question="Is it there?")
        for rule_id in ("lane", "lane_snapshot", "lane__snapshot", "snapshot_lane", "a.b", "a_b")
    ]
    found = components(look_alikes)
    assert len(found) == 3 * len(look_alikes) + 1
    assert_all_apart(list(found.values()))


def test_cameras_whose_ids_differ_by_a_dot_are_two_devices() -> None:
    devices = {discovery_ids.device_id(PREFIX, c) for c in ("cam.1", "cam_1", "cam__1", "cam-1")}
    assert len(devices) == 4
    assert all(DISCOVERY_ID.match(device) for device in devices)
    assert discovery_ids.device_id(PREFIX, "cam_1") == "vigil_cam_1"  # kept as it was
    dotted = json.loads(discovery.camera_config(PREFIX, camera("cam.1"), [LANE], True))
    assert dotted["dev"]["ids"] == [discovery_ids.device_id(PREFIX, "cam.1")]
    assert dotted["cmps"]["rule_lane"]["state_topic"] == "vigil/cam.1/lane/state"  # as before
    assert_all_apart(every_component([LANE], ["cam.1", "cam_1", "cam__1", "cam-1"]))


def test_a_camera_whose_id_ends_like_a_kind_keeps_apart() -> None:
    tricky = [Rule(id="rule_x", question="Is it there?"), Rule(id="x", question="Is it?")]
    assert_all_apart(every_component(tricky, ["dock", "dock_rule", "dock__rule"]))


def assert_all_apart(found: list[dict[str, Any]]) -> None:
    unique_ids = [component["unique_id"] for component in found]
    assert len(set(unique_ids)) == len(unique_ids), unique_ids
    assert all(DISCOVERY_ID.match(unique_id) for unique_id in unique_ids)


@given(st.lists(st.from_regex(CAMERA_ID_PATTERN, fullmatch=True), min_size=2, unique=True))
def test_safe_ids_are_discovery_ids_and_never_shared(camera_ids: list[str]) -> None:
    safe = [discovery_ids.safe_id(camera_id) for camera_id in camera_ids]
    assert len(set(safe)) == len(safe)
    for camera_id, safe_id in zip(camera_ids, safe, strict=True):
        assert discovery_ids.SAFE.fullmatch(safe_id), safe_id
        assert discovery_ids.SEPARATOR not in safe_id
        assert (safe_id == camera_id) == bool(discovery_ids.SAFE.fullmatch(camera_id))


def test_a_device_published_before_ids_had_kinds_has_its_old_components_removed() -> None:
    old = {"p": "binary_sensor", "name": "lane", "unique_id": "vigil_dock_lane"}
    published = json.dumps({"cmps": {"lane": old, "lane__snapshot": {"p": "image", "x": 1}}})
    wanted = discovery.camera_config(PREFIX, camera("dock"), [LANE], commands=False)
    found = json.loads(discovery.with_removals(published, wanted))["cmps"]
    assert found["lane"] == {"p": "binary_sensor"}
    assert found["lane__snapshot"] == {"p": "image"}
    assert set(found) == {"lane", "lane__snapshot", "rule_lane", "snapshot_lane"}


def test_attributes_carry_the_rule_zones() -> None:
    assert json.loads(topics.rule_only_attributes(["lane", "dock"])) == {"zones": ["lane", "dock"]}
    assert json.loads(topics.rule_only_attributes([])) == {"zones": []}


def test_an_alerts_attributes_carry_its_rule_zones() -> None:
    alert = AlertRecord(
        id="al_1", camera="dock", rule="lane", severity="warning", question="?", state="open",
        acknowledged=False, opened_at=1.0, description="a person",
    )  # fmt: skip
    attributes = json.loads(topics.attributes(alert, "https://vigil.example.com", ["lane"]))
    assert attributes["zones"] == ["lane"]
    assert attributes["alert_id"] == "al_1"


def test_an_alerts_attributes_say_when_it_was_last_seen_and_for_how_long() -> None:
    alert = AlertRecord(
        id="al_1", camera="dock", rule="lane", severity="warning", question="?", state="closed",
        acknowledged=False, onset_at=1_800_000_001.0, opened_at=1_800_000_012.0,
        description="a person", last_seen=1_800_000_025.0, closed_at=1_800_000_032.0,
    )  # fmt: skip
    attributes = json.loads(topics.attributes(alert, "https://vigil.example.com", ["lane"]))
    assert (attributes["onset_at"], attributes["last_seen"]) == (1_800_000_001.0, 1_800_000_025.0)
    assert attributes["seen_for_s"] == 24.0
    older = alert.model_copy(update={"last_seen": None})
    attributes = json.loads(topics.attributes(older, "https://vigil.example.com", ["lane"]))
    assert (attributes["last_seen"], attributes["seen_for_s"]) == (None, None)
