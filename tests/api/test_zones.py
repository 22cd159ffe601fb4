"""/v1/cameras/{id}/zones on a live server: stored with the camera, validated, admin only."""

from __future__ import annotations

import json

from tests.api.conftest import LiveApi

LANE = {"name": "lane", "points": [[0.1, 0.6], [0.9, 0.6], [0.9, 0.95], [0.1, 0.95]]}
CLOCK = {"name": "clock", "points": [[0.8, 0.0], [1.0, 0.0], [1.0, 0.15]]}


def test_zones_are_stored_with_the_camera_and_read_back(live_api: LiveApi) -> None:
    admin = live_api.client(live_api.admin)
    camera = {"id": "aisle", "url": "rtsp://10.0.0.9/s", "zones": [LANE]}
    assert admin.post("/v1/cameras", json=camera).status_code == 201
    replaced = admin.put("/v1/cameras/aisle/zones", json={"zones": [LANE], "masks": [CLOCK]})
    assert replaced.status_code == 200, replaced.text
    read = admin.get("/v1/cameras/aisle/zones").json()
    assert [zone["name"] for zone in read["zones"]] == ["lane"]
    assert read["masks"][0]["points"] == CLOCK["points"]
    stored = json.loads(live_api.redis.hget(live_api.keys.cameras, "aisle"))  # type: ignore[arg-type]
    assert stored["masks"][0]["name"] == "clock"
    assert stored["url"] == "rtsp://10.0.0.9/s"  # the zones' PUT leaves the rest alone
    # A PATCH of another field keeps them.
    admin.patch("/v1/cameras/aisle", json={"name": "Aisle 4"})
    assert admin.get("/v1/cameras/aisle").json()["zones"][0]["name"] == "lane"
    assert admin.put("/v1/cameras/aisle/zones", json={}).json() == {"zones": [], "masks": []}


def test_bad_zones_are_refused_with_the_reason(live_api: LiveApi) -> None:
    admin = live_api.client(live_api.admin)
    assert admin.post("/v1/cameras", json={"id": "gate", "url": "rtsp://10.0.0.8/s"}).status_code
    bowtie = [[0.1, 0.1], [0.9, 0.9], [0.9, 0.1], [0.1, 0.8]]
    bad_bodies = {
        "two points": {"zones": [{"name": "a", "points": [[0, 0], [1, 1]]}]},
        "outside": {"zones": [{"name": "a", "points": [[0, 0], [1.2, 0], [1, 1]]}]},
        "crossing": {"zones": [{"name": "a", "points": bowtie}]},
        "no area": {"zones": [{"name": "a", "points": [[0, 0], [0.5, 0.5], [1, 1]]}]},
        "same name": {"zones": [LANE, LANE]},
        "bad name": {"zones": [{**LANE, "name": "Lane 1"}]},
        "too many points": {"zones": [{"name": "a", "points": [[i / 40, 0.5] for i in range(33)]}]},
        "too many zones": {"masks": [{**CLOCK, "name": f"m{i}"} for i in range(17)]},
    }
    for why, body in bad_bodies.items():
        response = admin.put("/v1/cameras/gate/zones", json=body)
        assert response.status_code == 422, why
    crossing = admin.put("/v1/cameras/gate/zones", json=bad_bodies["crossing"]).text
    assert "cross" in crossing
    assert admin.put("/v1/cameras/nowhere/zones", json={"zones": [LANE]}).status_code == 404
    reader = live_api.client(live_api.read)
    assert reader.put("/v1/cameras/gate/zones", json={"zones": [LANE]}).status_code == 403
    assert reader.get("/v1/cameras/gate/zones").status_code == 200
    assert admin.get("/v1/cameras/gate/zones").json() == {"zones": [], "masks": []}


def test_a_rule_names_zones_and_crops_only_with_them(live_api: LiveApi) -> None:
    admin = live_api.client(live_api.admin)
    rule = {"id": "lane-walker", "question": "Is a person walking in the lane?", "zones": ["lane"]}
    assert admin.post("/v1/rules", json={**rule, "zone_crop": True}).status_code == 201
    assert admin.get("/v1/rules/lane-walker").json()["zones"] == ["lane"]
    unzoned = {**rule, "id": "crop-anything", "zones": [], "zone_crop": True}
    assert admin.post("/v1/rules", json=unzoned).status_code == 422
    twice = {**rule, "id": "twice", "zones": ["a", "a"]}
    assert admin.post("/v1/rules", json=twice).status_code == 422
