"""/v1/reports on a live server: made on request, stored, listed, printed; schedules."""

from __future__ import annotations

import json
import time

from tests.api.conftest import LiveApi


def test_a_report_is_made_stored_listed_and_printed(live_api: LiveApi) -> None:
    admin = live_api.client(live_api.admin)
    reader = live_api.client(live_api.read)
    live_api.redis.hset(
        live_api.keys.cameras, "dock", json.dumps({"id": "dock", "url": "rtsp://h/s"})
    )
    now = time.time()
    made = reader.post("/v1/reports", json={"since": now - 3600, "until": now})
    assert made.status_code == 201, made.text
    report = made.json()
    assert report["cameras"] == ["dock"]
    assert not report["notable"]
    assert report["engine_calls"] == 0
    assert report["summary"].startswith("Nothing notable on dock")
    assert reader.get(f"/v1/reports/{report['id']}").json() == report
    assert [r["id"] for r in reader.get("/v1/reports", params={"camera": "dock"}).json()] == [
        report["id"]
    ]
    assert reader.get("/v1/reports", params={"camera": "gate"}).json() == []
    page = reader.get(f"/v1/reports/{report['id']}/print")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Nothing notable on dock" in page.text
    assert reader.get("/v1/reports/rp_none").status_code == 404
    assert admin.post("/v1/reports", json={"since": now, "until": now - 1}).status_code == 422
    week_and_a_day = {"since": now - 8 * 86_400, "until": now}
    assert admin.post("/v1/reports", json=week_and_a_day).status_code == 422


def test_a_report_with_alerts_but_no_engine_keeps_its_counts_and_says_why(
    live_api: LiveApi,
) -> None:
    reader = live_api.client(live_api.read)
    now = time.time()
    alert = {
        "id": "al_report1", "camera": "gate", "rule": "lane", "severity": "warning",
        "question": "Is a person in the lane?", "state": "closed", "acknowledged": "0",
        "onset_at": f"{now - 600:.3f}", "opened_at": f"{now - 590:.3f}",
        "closed_at": f"{now - 500:.3f}", "description": "a <person> in the lane",
    }  # fmt: skip
    live_api.redis.hset(live_api.keys.alert("al_report1"), mapping=alert)
    live_api.redis.zadd(live_api.keys.alert_index, {"al_report1": round((now - 590) * 1000)})
    live_api.redis.zadd(
        live_api.keys.camera_alert_index("gate"), {"al_report1": round((now - 590) * 1000)}
    )
    report = reader.post(
        "/v1/reports", json={"cameras": ["gate"], "since": now - 3600, "until": now}
    ).json()
    assert report["notable"]
    assert [(c["rule"], c["alerts"]) for c in report["counts"]] == [("lane", 1)]
    (entry,) = report["timeline"]
    assert (entry["kind"], entry["alert_id"], entry["start"]) == (
        "alert",
        "al_report1",
        round(now - 600, 3),
    )
    assert report["summary_failure"] == "no engine is configured here to write the summary"
    page = reader.get(f"/v1/reports/{report['id']}/print").text
    assert "a &lt;person&gt; in the lane" in page  # escaped
    assert "<person>" not in page


def test_schedules_are_admin_edited_and_validated(live_api: LiveApi) -> None:
    admin = live_api.client(live_api.admin)
    reader = live_api.client(live_api.read)
    night = {"id": "night", "at": "06:00", "hours": 8, "cameras": ["dock"]}
    assert reader.put("/v1/reports/schedules/night", json=night).status_code == 403
    stored = admin.put("/v1/reports/schedules/night", json=night)
    assert stored.status_code == 200, stored.text
    created = stored.json()["created_at"]
    again = admin.put("/v1/reports/schedules/night", json={**night, "hours": 10}).json()
    assert (again["hours"], again["created_at"]) == (10, created)  # made once, edited since
    assert [s["id"] for s in reader.get("/v1/reports/schedules").json()] == ["night"]
    assert (
        admin.put("/v1/reports/schedules/night", json={**night, "at": "25:00"}).status_code == 422
    )
    assert admin.put("/v1/reports/schedules/other", json=night).status_code == 422
    assert admin.delete("/v1/reports/schedules/night").status_code == 204
    assert admin.delete("/v1/reports/schedules/night").status_code == 404
