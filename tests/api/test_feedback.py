"""/v1/feedback on the live API with real Redis and a real archive: missed events marked
while their frames are buffered (kept as a context clip, refused with the reason
otherwise), and per-rule counts, precision and recall from the feedback given, also on
/metrics."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Iterator

import av
import pytest

from agent.runtime.embedded_redis import EmbeddedRedis
from streams.buffer.frames import FrameRecord, append_frame
from tests.api.conftest import LiveApi, live_api_on
from tests.archive.test_alert_mover import FRAMES, write_alerts


@pytest.fixture(scope="module")
def live_api(redis_server: EmbeddedRedis) -> Iterator[LiveApi]:
    with live_api_on(redis_server.url) as api:
        admin = api.client(api.admin)
        for camera in ("cam1", "cam2"):
            body = {"id": camera, "url": "rtsp://10.0.0.8/s", "enabled": False}
            assert admin.post("/v1/cameras", json=body).status_code == 201
        rule = {"id": "lane", "question": "Is a person in the lane?", "cameras": ["cam1", "cam2"]}
        assert admin.post("/v1/rules", json=rule).status_code == 201
        yield api


def buffer_frames(api: LiveApi, camera: str, seconds: float) -> float:
    """Frames every 0.25 s over the last ``seconds`` (after those already buffered);
    returns now."""
    now = time.time()
    last = api.redis.xrevrange(api.keys.frames(camera), count=1)
    first = now - seconds if not last else float(last[0][1][b"ts"]) + 0.25
    pipe = api.redis.pipeline()
    for index in range(round((now - first) * 4)):
        jpeg = FRAMES[index % len(FRAMES)]
        record = FrameRecord(camera, first + index / 4, index, 0.1, 320, 208, jpeg)
        append_frame(pipe, api.keys, record, 3600)
    pipe.execute()
    return now


def test_a_missed_event_keeps_its_buffered_context_and_is_listed(live_api: LiveApi) -> None:
    now = buffer_frames(live_api, "cam1", 90)
    admin = live_api.client(live_api.admin)
    body = {"camera": "cam1", "rule": "lane", "start": now - 50, "end": now - 40, "note": "van"}
    marked = admin.post("/v1/feedback/missed", json=body)
    assert marked.status_code == 201, marked.text
    event = marked.json()
    assert event["by"] == "test-admin"
    assert event["clip_start"] == pytest.approx(now - 70, abs=0.3)  # 20 s before
    assert event["clip_end"] == pytest.approx(now - 20, abs=0.3)  # 20 s after
    listed = live_api.client(live_api.read).get("/v1/feedback/missed", params={"rule": "lane"})
    assert [item["id"] for item in listed.json()["items"]] == [event["id"]]
    assert live_api.redis.hget(live_api.keys.feedback_counts, "lane|cam1|missed") == b"1"
    assert event["clip"].startswith("context/cam1/")


def test_missed_events_are_refused_with_the_reason(live_api: LiveApi) -> None:
    now = buffer_frames(live_api, "cam1", 30)
    admin = live_api.client(live_api.admin)
    good = {"camera": "cam1", "rule": "lane", "start": now - 20, "end": now - 10}
    gone = admin.post("/v1/feedback/missed", json={**good, "start": now - 3000, "end": now - 2990})
    assert gone.status_code == 409
    assert "no longer holds" in gone.json()["detail"]
    assert admin.post("/v1/feedback/missed", json={**good, "camera": "nowhere"}).status_code == 404
    assert admin.post("/v1/feedback/missed", json={**good, "rule": "other"}).status_code == 404
    backwards = {**good, "start": now - 10, "end": now - 20}
    assert admin.post("/v1/feedback/missed", json=backwards).status_code == 422
    too_long = {**good, "start": now - 2000}
    assert admin.post("/v1/feedback/missed", json=too_long).status_code == 422
    reader = live_api.client(live_api.read)
    assert reader.post("/v1/feedback/missed", json=good).status_code == 403


def test_stats_count_feedback_per_rule_and_camera_with_precision_and_recall(
    live_api: LiveApi,
) -> None:
    ids = asyncio.run(_alerts_on(live_api, "cam2", 4))
    admin = live_api.client(live_api.admin)
    for alert_id, verdict in zip(ids, ["confirmed", "false_alarm", "false_alarm"], strict=False):
        given = admin.post(f"/v1/alerts/{alert_id}/feedback", json={"verdict": verdict})
        assert given.status_code == 200, given.text
    now = buffer_frames(live_api, "cam2", 40)
    missed = {"camera": "cam2", "rule": "lane", "start": now - 30, "end": now - 25}
    assert admin.post("/v1/feedback/missed", json=missed).status_code == 201
    reader = live_api.client(live_api.read)
    stats = reader.get("/v1/feedback/stats", params={"camera": "cam2", "since": now - 3600})
    assert stats.status_code == 200, stats.text
    [row] = stats.json()["rows"]
    assert row == {
        "rule": "lane", "camera": "cam2", "alerts": 4, "confirmed": 1, "false_alarms": 2,
        "missed": 1, "precision": pytest.approx(1 / 3, abs=1e-3), "recall": 0.5,
    }  # fmt: skip
    assert stats.json()["truncated"] is False
    before = reader.get("/v1/feedback/stats", params={"camera": "cam2", "until": now - 7200})
    assert before.json()["rows"] == []
    assert reader.get("/v1/feedback/stats", params={"since": 10, "until": 5}).status_code == 422
    metrics = reader.get("/metrics").text
    assert 'vigil_alert_feedback{rule="lane",camera="cam2",verdict="false_alarm"} 2' in metrics
    assert 'vigil_alert_feedback{rule="lane",camera="cam2",verdict="missed"} 1' in metrics


async def _alerts_on(api: LiveApi, camera: str, count: int) -> list[str]:
    client = api.aredis()
    ids = await write_alerts(client, api.keys, count, hours_ago=0.1, camera=camera)
    await client.aclose()
    return ids


def test_an_alerts_context_clip_is_served_once_kept(live_api: LiveApi) -> None:
    now = buffer_frames(live_api, "cam1", 30)
    body = {"camera": "cam1", "rule": "lane", "start": now - 12, "end": now - 8}
    kept = live_api.client(live_api.admin).post("/v1/feedback/missed", json=body).json()
    [alert_id] = asyncio.run(_alerts_on(live_api, "cam1", 1))
    reader = live_api.client(live_api.read)
    assert reader.get(f"/v1/alerts/{alert_id}/context.mp4").status_code == 404
    assert "context" not in reader.get(f"/v1/alerts/{alert_id}").json()["links"]
    live_api.redis.hset(live_api.keys.alert(alert_id), "context_clip", kept["clip"])
    served = reader.get(f"/v1/alerts/{alert_id}/context.mp4")
    assert served.status_code == 200
    assert served.headers["content-type"] == "video/mp4"
    with av.open(io.BytesIO(served.content)) as container:
        assert sum(1 for _ in container.decode(video=0)) > 0
    assert (
        reader.get(f"/v1/alerts/{alert_id}")
        .json()["links"]["context"]
        .endswith(f"/v1/alerts/{alert_id}/context.mp4")
    )
    live_api.redis.hset(live_api.keys.alert(alert_id), "context_clip", "context/cam1/gone.mp4")
    assert reader.get(f"/v1/alerts/{alert_id}/context.mp4").status_code == 404
