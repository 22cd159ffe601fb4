"""/v1/mqtt shows what the MQTT publisher recorded in its health hash, behind a key."""

from __future__ import annotations

import time

from tests.api.conftest import LiveApi


def test_mqtt_status_is_unknown_until_a_publisher_reports(live_api: LiveApi) -> None:
    reader = live_api.client(live_api.read)
    assert reader.get("/v1/mqtt").json() == {
        "state": "unknown", "broker": None, "last_error": None, "at": None, "every_s": None,
    }  # fmt: skip
    live_api.redis.hset(
        live_api.keys.mqtt_health,
        mapping={"state": "disconnected", "broker": "b:1883", "last_error": "refused", "at": "5"},
    )
    body = reader.get("/v1/mqtt").json()
    assert body == {
        "state": "disconnected", "broker": "b:1883", "last_error": "refused", "at": 5.0,
        "every_s": None,
    }  # fmt: skip
    assert live_api.client(None).get("/v1/mqtt").status_code == 401


def test_a_connected_publisher_that_stopped_reporting_is_stale(live_api: LiveApi) -> None:
    reader = live_api.client(live_api.read)
    beating = {"state": "connected", "broker": "b:1883", "every_s": "5"}
    live_api.redis.hset(live_api.keys.mqtt_health, mapping={**beating, "at": str(time.time())})
    assert reader.get("/v1/mqtt").json()["state"] == "connected"
    silent_since = time.time() - 3 * 5 - 5 - 1  # three beats and the grace missed
    live_api.redis.hset(live_api.keys.mqtt_health, "at", str(silent_since))
    body = reader.get("/v1/mqtt").json()
    assert body["state"] == "stale"
    assert "is `vigil mqtt`" in body["last_error"]
    live_api.redis.hset(live_api.keys.mqtt_health, "state", "disconnected")
    assert reader.get("/v1/mqtt").json()["state"] == "disconnected"  # it says why itself
