"""/v1/mqtt shows what the MQTT publisher recorded in its health hash, behind a key."""

from __future__ import annotations

from tests.api.conftest import LiveApi


def test_mqtt_status_is_unknown_until_a_publisher_reports(live_api: LiveApi) -> None:
    reader = live_api.client(live_api.read)
    assert reader.get("/v1/mqtt").json() == {
        "state": "unknown", "broker": None, "last_error": None, "at": None,
    }  # fmt: skip
    live_api.redis.hset(
        live_api.keys.mqtt_health,
        mapping={"state": "disconnected", "broker": "b:1883", "last_error": "refused", "at": "5"},
    )
    body = reader.get("/v1/mqtt").json()
    assert body == {"state": "disconnected", "broker": "b:1883", "last_error": "refused", "at": 5.0}
    assert live_api.client(None).get("/v1/mqtt").status_code == 401
