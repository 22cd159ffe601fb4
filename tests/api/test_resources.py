"""Cameras (password write-only), rules, errors and the OpenAPI document on a live server."""

from __future__ import annotations

import json

from tests.api.conftest import LiveApi

PASSWORD = "S3cr3t-Pa55"
URL = f"rtsp://admin:{PASSWORD}@10.1.2.3:554/stream1"


def test_camera_crud_never_shows_the_password(live_api: LiveApi) -> None:
    admin = live_api.client(live_api.admin)
    seen: list[str] = []

    def call(method: str, path: str, **kwargs: object) -> dict[str, object]:
        response = admin.request(method, path, **kwargs)  # type: ignore[arg-type]
        seen.append(response.text)
        return response  # type: ignore[return-value]

    created = call("POST", "/v1/cameras", json={"id": "dock", "url": URL, "name": "Dock"})
    assert created.status_code == 201, created.text  # type: ignore[attr-defined]
    assert created.json()["url"] == "rtsp://admin:***@10.1.2.3:554/stream1"  # type: ignore[attr-defined]
    assert call("POST", "/v1/cameras", json={"id": "dock", "url": URL}).status_code == 409  # type: ignore[attr-defined]
    call("GET", "/v1/cameras")
    call("GET", "/v1/cameras/dock")
    patched = call("PATCH", "/v1/cameras/dock", json={"name": "Loading dock", "fps": 2})
    assert patched.json()["name"] == "Loading dock"  # type: ignore[attr-defined]
    call("GET", "/v1/cameras/dock/health")
    call("PATCH", "/v1/cameras/dock", json={"fps": 99})
    call("PATCH", "/v1/cameras/dock", json={"url": f"http://admin:{PASSWORD}@x/"})
    call("POST", "/v1/cameras", json={"id": "bad", "url": f"ftp://u:{PASSWORD}@h/", "x": PASSWORD})
    call("GET", "/openapi.json")
    assert not [text for text in seen if PASSWORD in text]
    stored = json.loads(live_api.redis.hget(live_api.keys.cameras, "dock"))  # type: ignore[arg-type]
    assert stored["url"] == URL  # ingest still gets the password
    assert stored["name"] == "Loading dock"
    assert stored["fps"] == 2
    assert call("DELETE", "/v1/cameras/dock").status_code == 204  # type: ignore[attr-defined]
    assert call("GET", "/v1/cameras/dock").status_code == 404  # type: ignore[attr-defined]


def test_rule_crud_is_stored_where_workers_read_it(live_api: LiveApi) -> None:
    admin = live_api.client(live_api.admin)
    rule = {"id": "lane", "question": "Is a person in the forklift lane?", "severity": "critical"}
    assert admin.post("/v1/rules", json=rule).status_code == 201
    assert admin.post("/v1/rules", json=rule).status_code == 409
    replaced = admin.put("/v1/rules/lane", json={**rule, "threshold": 0.8})
    assert replaced.json()["threshold"] == 0.8
    assert admin.put("/v1/rules/lane", json={**rule, "id": "other"}).status_code == 422
    stored = json.loads(live_api.redis.hget(live_api.keys.rules, "lane"))  # type: ignore[arg-type]
    assert stored["threshold"] == 0.8
    assert [r["id"] for r in admin.get("/v1/rules").json()] == ["lane"]
    assert admin.delete("/v1/rules/lane").status_code == 204
    assert admin.get("/v1/rules/lane").status_code == 404


def test_malformed_bodies_are_422_json(live_api: LiveApi) -> None:
    admin = live_api.client(live_api.admin)
    for body in (b"{not json", b"[]", b'{"id": 5}', b"\xff\xfe"):
        response = admin.post(
            "/v1/rules", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 422, body
        assert isinstance(response.json()["detail"], list)
    assert (
        admin.post("/v1/rules", content=b"x", headers={"content-type": "text/plain"}).status_code
        == 422
    )
    missing = admin.get("/v1/no-such-route")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Not Found"}


def test_ask_without_an_engine_is_a_clear_503(live_api: LiveApi) -> None:
    reader = live_api.client(live_api.read)
    response = reader.post("/v1/ask", json={"camera": "cam1", "question": "What happens?"})
    assert response.status_code == 503
    assert "no reasoning engine" in response.json()["detail"]


def test_probes(live_api: LiveApi) -> None:
    anonymous = live_api.client(None)
    assert anonymous.get("/healthz").json() == {"status": "ok"}
    assert anonymous.get("/readyz").json() == {"status": "ready", "redis": True, "engine": None}
