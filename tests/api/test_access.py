"""Access control: every route needs a key (but the probes), admin routes an admin key."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.api.conftest import LiveApi

PUBLIC = {"/healthz", "/readyz"}
EXAMPLE = {
    "camera_id": "cam1",
    "rule_id": "lane",
    "alert_id": "al_0123456789abcdef0123",
    "webhook_id": "wh_0123456789abcdef",
    "window_id": "cam1:1767225600000",
    "schedule_id": "night",
    "report_id": "rp_0123456789abcdef0123",
}


def routes(api: LiveApi) -> list[tuple[str, str, bool]]:
    """(method, path with example ids, needs admin) of every operation in the OpenAPI doc."""
    spec = httpx.get(f"{api.url}/openapi.json", trust_env=False).json()
    found = []
    for path, operations in spec["paths"].items():
        concrete = re.sub(r"\{(\w+)\}", lambda m: EXAMPLE[m[1]], path)
        for method in operations:
            admin = method != "get" or path.startswith("/v1/webhooks")
            if path in ("/v1/ask", "/v1/reports"):  # questions: a read key asks them
                admin = False
            found.append((method.upper(), concrete, admin))
    return found


def test_every_route_but_the_probes_needs_a_key(live_api: LiveApi) -> None:
    anonymous = live_api.client(None)
    for method, path, _ in routes(live_api):
        response = anonymous.request(method, path)
        if path in PUBLIC:
            assert response.status_code in (200, 503), path
            continue
        assert response.status_code == 401, (method, path, response.status_code)
        assert response.headers["www-authenticate"] == "Bearer"
        assert "API key" in response.json()["detail"]


def test_a_wrong_or_malformed_key_is_refused(live_api: LiveApi) -> None:
    for token in ("vk_not-a-real-key", "garbage", live_api.admin + "x"):
        response = live_api.client(token).get("/v1/cameras")
        assert response.status_code == 401
    basic = httpx.get(
        f"{live_api.url}/v1/cameras", headers={"Authorization": "Basic YTpi"}, trust_env=False
    )
    assert basic.status_code == 401


def test_a_read_key_is_refused_on_admin_routes(live_api: LiveApi) -> None:
    reader = live_api.client(live_api.read)
    admin_routes = [(m, p) for m, p, admin in routes(live_api) if admin]
    assert len(admin_routes) >= 15
    for method, path in admin_routes:
        response = reader.request(method, path, json={})
        assert response.status_code == 403, (method, path, response.status_code, response.text)
        assert "admin" in response.json()["detail"]


@pytest.mark.parametrize("path", ["/v1/cameras", "/v1/rules", "/v1/alerts", "/metrics"])
def test_a_read_key_reads(live_api: LiveApi, path: str) -> None:
    assert live_api.client(live_api.read).get(path).status_code == 200


def test_cors_is_closed_by_default(live_api: LiveApi) -> None:
    preflight = httpx.options(
        f"{live_api.url}/v1/cameras",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        trust_env=False,
    )
    assert "access-control-allow-origin" not in preflight.headers
