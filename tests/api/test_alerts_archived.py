"""Alerts past the hot retention, served by the live API from the archive: pages that run
across Redis and the archive, one alert with its verdicts, its evidence clip, its
acknowledgement, and alerts in search results; on a single Redis and on a Redis Cluster."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import pytest

from agent.archive.alert_mover import AlertMover
from agent.archive.alert_rows import AlertRows
from agent.archive.alert_store import AlertStore
from agent.archive.blobs import BlobStore
from agent.archive.embedder import Embedder
from agent.archive.settings import ArchiveSettings
from agent.pipeline.settings import AlertSettings
from agent.runtime.startup import connect
from streams.bus.keys import Keys
from tests.api.conftest import LiveApi, api_settings, create_api_keys, running_api
from tests.archive.test_alert_mover import FRAMES, held, write_alerts
from tests.conftest import free_port

SETTINGS = AlertSettings(hot_retention_h=1.0, summary_wait_s=0.0)


@dataclass
class Written:
    api: LiveApi
    moved: list[str]  # past the hot retention: in the archive only
    recent: list[str]  # closed, archived, still in Redis
    open: list[str]


async def write_and_move(api: LiveApi, data_dir: Path) -> Written:
    client = api.aredis()
    moved = await write_alerts(client, api.keys, 3, hours_ago=3)
    recent = await write_alerts(client, api.keys, 2, hours_ago=0.5)
    still_open = await write_alerts(client, api.keys, 1, hours_ago=0.1, close=False)
    archive = ArchiveSettings()
    embedder = Embedder.load(archive.embedding_model)
    blobs = BlobStore.open(archive, data_dir)
    store = await AlertStore.open(archive, data_dir, embedder.dim, blobs)
    rows = AlertRows(client, api.keys, store, embedder, 4.0)
    mover = AlertMover(client, api.keys, SETTINGS, store, rows)
    await mover.archive_settled()
    assert await mover.move_expired() == 3
    for alert_id in moved:
        assert not await held(client, api.keys, alert_id)
    await client.aclose()
    return Written(api, moved, recent, still_open)


@pytest.fixture(scope="module", params=["server", "cluster"])
def written(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Written]:
    server = request.getfixturevalue(f"redis_{request.param}")
    cluster = request.param == "cluster"
    keys = Keys(prefix=f"archived-{uuid.uuid4().hex[:8]}:")
    data_dir = tmp_path_factory.mktemp("archived-alerts")
    port = free_port()
    admin, read = create_api_keys(server.url, keys, cluster=cluster)
    settings = api_settings(port).model_copy(update={"data_dir": data_dir})
    with (
        running_api(server.url, settings, keys, cluster=cluster),
        connect(server.url, cluster) as sync,
    ):
        api = LiveApi(f"http://127.0.0.1:{port}", keys, admin, read, sync, server.url, cluster)
        yield asyncio.run(write_and_move(api, data_dir))


def test_pages_run_newest_first_across_redis_and_the_archive(written: Written) -> None:
    reader = written.api.client(written.api.read)
    seen: list[dict[str, object]] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = reader.get("/v1/alerts", params=params)
        assert page.status_code == 200, page.text
        seen += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    everything = written.moved + written.recent + written.open
    assert [alert["id"] for alert in seen] == everything[::-1]
    closed = reader.get("/v1/alerts", params={"state": "closed", "limit": 10}).json()["items"]
    assert [alert["id"] for alert in closed] == (written.moved + written.recent)[::-1]
    opened = reader.get("/v1/alerts", params={"state": "open"}).json()["items"]
    assert [alert["id"] for alert in opened] == written.open
    by_camera = reader.get("/v1/alerts", params={"camera": "cam1", "limit": 100}).json()
    assert len(by_camera["items"]) == 6
    assert reader.get("/v1/alerts", params={"camera": "cam2"}).json()["items"] == []
    moved = reader.get(f"/v1/alerts/{written.moved[1]}").json()
    until = reader.get("/v1/alerts", params={"until": moved["opened_at"]}).json()["items"]
    assert [alert["id"] for alert in until] == [written.moved[0]]


def test_an_archived_alert_is_served_with_its_verdicts_and_evidence_clip(
    written: Written,
) -> None:
    reader = written.api.client(written.api.read)
    alert_id = written.moved[0]
    detail = reader.get(f"/v1/alerts/{alert_id}")
    assert detail.status_code == 200, detail.text
    body = detail.json()
    assert body["state"] == "closed"
    assert body["description"] == "person 0 in the lane"
    assert [v["type"] for v in body["verdicts"]] == ["alert.opened", "alert.closed"]
    assert body["links"]["evidence"].endswith(f"/v1/alerts/{alert_id}/evidence.mp4")
    evidence = reader.get(f"/v1/alerts/{alert_id}/evidence.mp4")
    assert evidence.status_code == 200, evidence.text
    assert evidence.headers["content-type"] == "video/mp4"
    with av.open(io.BytesIO(evidence.content)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert sum(1 for _ in container.decode(video=0)) == len(FRAMES)
    assert reader.get("/v1/alerts/al_0123456789abcdef0123").status_code == 404
    assert reader.get("/v1/alerts/al_0123456789abcdef0123/evidence.mp4").status_code == 404


def test_an_archived_alert_can_be_acknowledged_once(written: Written) -> None:
    alert_id = written.moved[2]
    admin = written.api.client(written.api.admin)
    reader = written.api.client(written.api.read)
    assert reader.post(f"/v1/alerts/{alert_id}/acknowledge").status_code == 403
    acked = admin.post(f"/v1/alerts/{alert_id}/acknowledge")
    assert acked.status_code == 200, acked.text
    assert acked.json()["acknowledged"] is True
    assert acked.json()["acknowledged_by"] == "test-admin"
    again = admin.post(f"/v1/alerts/{alert_id}/acknowledge").json()
    assert again["acknowledged_at"] == acked.json()["acknowledged_at"]
    assert reader.get(f"/v1/alerts/{alert_id}").json()["acknowledged"] is True
    assert admin.post("/v1/alerts/al_0123456789abcdef0123/acknowledge").status_code == 404
    hot = admin.post(f"/v1/alerts/{written.recent[0]}/acknowledge").json()
    assert hot["acknowledged"] is True
    assert written.api.redis.zscore(written.api.keys.alerts_to_archive, hot["id"]) is not None


def test_search_returns_the_alerts_that_match(written: Written) -> None:
    reader = written.api.client(written.api.read)
    found = reader.get("/v1/search", params={"q": "person 1 in the lane"})
    assert found.status_code == 200, found.text
    alerts = found.json()["alerts"]
    assert alerts[0]["id"] in (written.moved[1], written.recent[1])
    assert {alert["id"] for alert in alerts} <= set(written.moved + written.recent)
    none = reader.get("/v1/search", params={"q": "person", "camera": "cam2"}).json()
    assert none["alerts"] == []
    later = written.api.redis.zscore(written.api.keys.alert_index, written.recent[0])
    assert later is not None
    since = reader.get("/v1/search", params={"q": "person", "since": later / 1000}).json()
    assert {alert["id"] for alert in since["alerts"]} == set(written.recent)


def _feedback_events(api: LiveApi, alert_id: str) -> list[dict[str, object]]:
    entries = api.redis.xrange(api.keys.outbox)
    payloads = [json.loads(fields[b"payload"]) for _, fields in entries if b"payload" in fields]
    return [p for p in payloads if p["type"] == "alert.feedback" and p["alert_id"] == alert_id]


def _count(api: LiveApi, alert_id: str, verdict: str) -> int:
    record = api.client(api.read).get(f"/v1/alerts/{alert_id}").json()
    field = f"{record['rule']}|{record['camera']}|{verdict}"
    return int(api.redis.hget(api.keys.feedback_counts, field) or 0)


def test_feedback_on_an_archived_alert_is_kept_replaced_counted_and_announced(
    written: Written,
) -> None:
    alert_id = written.moved[1]
    api = written.api
    admin, reader = api.client(api.admin), api.client(api.read)
    url = f"/v1/alerts/{alert_id}/feedback"
    assert reader.post(url, json={"verdict": "confirmed"}).status_code == 403
    refused = [
        {"verdict": "false_alarm", "onset": 10.0},
        {"verdict": "confirmed", "onset": 20.0, "end": 10.0},
        {"verdict": "maybe"},
        {"verdict": "confirmed", "note": "x" * 501},
        {"verdict": "confirmed", "extra": 1},
    ]
    for body in refused:
        assert admin.post(url, json=body).status_code == 422, body
    before = _count(api, alert_id, "confirmed")
    confirmed = admin.post(url, json={"verdict": "confirmed", "onset": 5.0, "end": 9.5})
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["feedback"]["by"] == "test-admin"
    assert _count(api, alert_id, "confirmed") == before + 1
    dismissed = admin.post(url, json={"verdict": "false_alarm", "note": "a shadow"}).json()
    assert dismissed["feedback"]["verdict"] == "false_alarm"
    detail = reader.get(f"/v1/alerts/{alert_id}").json()
    assert detail["feedback"]["note"] == "a shadow"
    assert _count(api, alert_id, "confirmed") == before
    assert _count(api, alert_id, "false_alarm") >= 1
    events = _feedback_events(api, alert_id)
    assert [event["feedback"]["verdict"] for event in events] == ["confirmed", "false_alarm"]
    missing = admin.post(
        "/v1/alerts/al_0123456789abcdef0123/feedback", json={"verdict": "confirmed"}
    )
    assert missing.status_code == 404


def test_feedback_on_an_alert_in_redis_queues_it_to_be_archived_again(written: Written) -> None:
    api = written.api
    alert_id = written.recent[1]
    api.redis.zrem(api.keys.alerts_to_archive, alert_id)
    url = f"/v1/alerts/{alert_id}/feedback"
    given = api.client(api.admin).post(url, json={"verdict": "false_alarm"})
    assert given.status_code == 200, given.text
    assert api.redis.hget(api.keys.alert(alert_id), "feedback_changes") == b"1"
    assert api.redis.zscore(api.keys.alerts_to_archive, alert_id) is not None
    assert len(_feedback_events(api, alert_id)) == 1
    opened = written.open[0]
    on_open = api.client(api.admin).post(
        f"/v1/alerts/{opened}/feedback", json={"verdict": "confirmed"}
    )
    assert on_open.json()["feedback"]["verdict"] == "confirmed"
    assert api.redis.zscore(api.keys.alerts_to_archive, opened) is None  # archived when closed
