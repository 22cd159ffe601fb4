"""Alerts written by the real AlertBook, read back through the live API: pages, detail,
evidence, acknowledge, the SSE feed with Last-Event-ID, metrics, frames and clips; on a
single Redis and on a Redis Cluster."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Iterator

import av
import httpx
import numpy as np
import pytest
from PIL import Image

from agent.pipeline.alert_book import AlertBook
from agent.pipeline.alert_state import WindowResult
from agent.pipeline.metrics import Counters
from agent.pipeline.rules import Rule
from streams.buffer.frames import FrameRecord, append_frame
from tests.api.conftest import LiveApi, live_api_on
from tests.pipeline.evidence import fixed_frames

RULE = Rule(id="lane", question="Is a person in the lane?", close_after_s=1.0, cooldown_s=0.0)


def jpeg(shade: int) -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.full((280, 448, 3), shade, np.uint8)).save(out, format="JPEG")
    return out.getvalue()


@pytest.fixture(scope="module", params=["server", "cluster"])
def live_api(request: pytest.FixtureRequest) -> Iterator[LiveApi]:
    server = request.getfixturevalue(f"redis_{request.param}")
    with live_api_on(server.url, cluster=request.param == "cluster") as api:
        yield api


async def write_alerts(api: LiveApi, count: int, rule: Rule = RULE) -> None:
    client = api.aredis()
    book = AlertBook(client, api.keys)
    start = int(time.time() * 1000) - 600_000
    for number in range(count):
        at = start + number * 10_000
        frames = fixed_frames([jpeg(40 + i) for i in range(4)], "cam1")
        await book.apply("cam1", rule, WindowResult(at, at + 2000, True, 0.9, "person"), frames)
        await book.apply("cam1", rule, WindowResult(at + 4000, at + 6000, False, 0.1, "empty"))
    await Counters(client, api.keys).add("windows_scheduled", "cam1", 7)
    await client.aclose()


def stored_frames(api: LiveApi, seconds: int) -> float:
    pipe = api.redis.pipeline()
    now = time.time()
    for index in range(seconds * 4):
        ts = now - seconds + index / 4
        append_frame(
            pipe, api.keys, FrameRecord("cam1", ts, index, 0.1, 448, 280, jpeg(index)), 600
        )
    pipe.execute()
    return now


def test_alert_pages_detail_evidence_and_acknowledge(live_api: LiveApi) -> None:
    asyncio.run(write_alerts(live_api, 5))
    reader = live_api.client(live_api.read)
    first = reader.get("/v1/alerts", params={"limit": 2, "camera": "cam1"}).json()
    assert len(first["items"]) == 2
    assert first["next_cursor"]
    rest = reader.get("/v1/alerts", params={"limit": 10, "cursor": first["next_cursor"]}).json()
    ids = [a["id"] for a in first["items"] + rest["items"]]
    assert len(ids) == 5 == len(set(ids))
    opened = [a["opened_at"] for a in first["items"] + rest["items"]]
    assert opened == sorted(opened, reverse=True)
    assert reader.get("/v1/alerts", params={"state": "open"}).json()["items"] == []
    assert reader.get("/v1/alerts", params={"severity": "critical"}).json()["items"] == []
    detail = reader.get(f"/v1/alerts/{ids[0]}").json()
    assert detail["state"] == "closed"
    assert [v["type"] for v in detail["verdicts"]] == ["alert.opened", "alert.closed"]
    evidence = reader.get(f"/v1/alerts/{ids[0]}/evidence.mp4")
    assert evidence.headers["content-type"] == "video/mp4"
    with av.open(io.BytesIO(evidence.content)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert sum(1 for _ in container.decode(video=0)) == 4
    assert reader.post(f"/v1/alerts/{ids[0]}/acknowledge").status_code == 403
    acked = live_api.client(live_api.admin).post(f"/v1/alerts/{ids[0]}/acknowledge").json()
    assert acked["acknowledged"]
    assert acked["acknowledged_by"] == "test-admin"


def test_sse_feed_resumes_from_last_event_id(live_api: LiveApi) -> None:
    headers = {"Authorization": f"Bearer {live_api.read}"}
    with httpx.Client(base_url=live_api.url, headers=headers, timeout=10, trust_env=False) as http:
        with http.stream("GET", "/v1/events") as feed:
            other = RULE.model_copy(update={"id": "dock"})
            asyncio.run(write_alerts(live_api, 1, other))
            events = _read_events(feed.iter_lines(), 2)
        assert [e["event"] for e in events] == ["alert.opened", "alert.closed"]
        resume = {"Last-Event-ID": events[0]["id"]}
        with http.stream("GET", "/v1/events", headers=resume) as feed:
            again = _read_events(feed.iter_lines(), 1)
    assert again[0]["id"] == events[1]["id"]
    assert again[0]["event"] == "alert.closed"


def _read_events(lines: object, count: int) -> list[dict[str, str]]:
    events: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in lines:  # type: ignore[attr-defined]
        if not line:
            if "id" in current:
                events.append(current)
                if len(events) == count:
                    return events
            current = {}
        elif not line.startswith(":") and ":" in line:
            name, _, value = line.partition(": ")
            current[name] = value
    return events


def test_metrics_latest_frame_and_clip(live_api: LiveApi) -> None:
    now = stored_frames(live_api, 5)
    health = {
        "state": "online", "frames_in": "100", "frames_out": "20", "dropped": "3",
        "reconnects": "0", "fps_in": "25", "fps_out": "4", "updated_at": str(time.time()),
    }  # fmt: skip
    live_api.redis.hset(live_api.keys.health("cam1"), mapping=health)
    live_api.redis.sadd(live_api.keys.health_index, "cam1")
    reader = live_api.client(live_api.read)
    text = reader.get("/metrics").text
    assert 'vigil_camera_dropped_total{camera="cam1"} 3' in text
    assert 'vigil_windows_scheduled_total{camera="cam1"}' in text
    assert 'vigil_camera_online{camera="cam1"} 1' in text
    latest = reader.get("/v1/cameras/cam1/latest.jpg")
    assert latest.headers["content-type"] == "image/jpeg"
    assert latest.content[:2] == b"\xff\xd8"
    clip = reader.get("/v1/cameras/cam1/clip.mp4", params={"start": now - 4, "end": now})
    assert clip.status_code == 200
    with av.open(io.BytesIO(clip.content)) as container:
        assert 14 <= sum(1 for _ in container.decode(video=0)) <= 16
    too_long = reader.get("/v1/cameras/cam1/clip.mp4", params={"start": now - 60, "end": now})
    assert too_long.status_code == 422


def test_webhook_routes_refuse_internal_targets_and_show_the_secret_once(live_api: LiveApi) -> None:
    admin = live_api.client(live_api.admin)
    for url in ("http://169.254.169.254/", "http://10.0.0.1/", "http://localhost:9/"):
        refused = admin.post("/v1/webhooks", json={"url": url})
        assert refused.status_code == 422, url
        assert "refused" in refused.json()["detail"]
    created = admin.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/hook"}).json()
    assert created["secret"].startswith("whsec_")
    listed = admin.get("/v1/webhooks").text + admin.get(f"/v1/webhooks/{created['id']}").text
    assert created["secret"] not in listed
    result = admin.post(f"/v1/webhooks/{created['id']}/test").json()
    assert not result["ok"]
    assert result["error"]
    log = admin.get(f"/v1/webhooks/{created['id']}/deliveries").json()
    assert log[0]["event_type"] == "webhook.test"
    assert not log[0]["ok"]
    patched = admin.patch(f"/v1/webhooks/{created['id']}", json={"url": "http://10.0.0.1/"})
    assert patched.status_code == 422
    assert admin.delete(f"/v1/webhooks/{created['id']}").status_code == 204
