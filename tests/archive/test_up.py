"""The archive in both topologies: what `vigil up` runs in one process (real ingest of the
demo footage, scheduler, worker with a scripted engine, API, archiver), and the archiver
run apart as its own role beside the others. Each analysed window's caption becomes
searchable at /v1/search with its thumbnail and, while its frames are buffered, its clip,
and a question about the period is answered from the archive; an alert the pipeline
opens leaves Redis after the hot retention and is served from the archive with its
evidence clip."""

from __future__ import annotations

import asyncio
import io
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import av
import httpx
import pytest
import redis.asyncio as aioredis

from agent.archive.settings import ArchiveSettings
from agent.pipeline.settings import AlertSettings
from agent.runtime.config import VigilSettings
from agent.runtime.embedded_redis import EmbeddedRedis
from agent.runtime.ingest import follow_store_in_background, ingest_from_store
from agent.runtime.service import Roles, run_agents
from agent.runtime.startup import connect
from streams.bus.keys import Keys
from tests.api.conftest import create_api_keys
from tests.archive.test_alert_mover import held
from tests.dashboard.conftest import RecordingEngine, settings_for, wait_until_up
from tests.pipeline.scripted_engine import SUMMARY

HOT_RETENTION_H = 0.0005  # 1.8 s after closing
TOPOLOGIES = {
    "vigil up": [Roles(api=True, archiver=True)],
    "roles apart": [Roles(api=True), Roles(scheduler=False, worker=False, archiver=True)],
}


@contextmanager
def running(
    settings: VigilSettings, redis_url: str, processes: list[Roles], engine: RecordingEngine
) -> Iterator[None]:
    """Each entry of ``processes`` runs as `run_agents` does in one process, in a thread."""
    stop = threading.Event()
    with connect(redis_url) as client, ingest_from_store(settings, client) as shard:
        follow_store_in_background(shard, stop)
        threads = [
            threading.Thread(
                target=run_agents,
                args=(settings, redis_url, stop, roles),
                kwargs={"engine": engine, "emit": lambda _: None},
                daemon=True,
            )
            for roles in processes
        ]
        for thread in threads:
            thread.start()
        try:
            yield
        finally:
            stop.set()
            for thread in threads:
                thread.join(30)


@pytest.mark.parametrize("topology", sorted(TOPOLOGIES))
async def test_analysed_windows_become_searchable_with_thumbnails_and_clips(
    redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory, topology: str
) -> None:
    keys = Keys(prefix=f"archup-{uuid.uuid4().hex[:8]}:")
    data_dir: Path = tmp_path_factory.mktemp("vigil")
    base = settings_for(redis_server.url, keys, data_dir)
    settings = base.model_copy(update={"archive": ArchiveSettings(batch_s=0.3)})
    _, read = await asyncio.to_thread(create_api_keys, redis_server.url, keys, "archive")
    started = time.time()
    engine = RecordingEngine()
    with running(settings, redis_server.url, TOPOLOGIES[topology], engine):
        url = settings.api.base_url()
        await asyncio.to_thread(wait_until_up, url)
        headers = {"Authorization": f"Bearer {read}"}
        async with httpx.AsyncClient(base_url=url, headers=headers, trust_env=False) as api:
            windows = await _searched(api)
            top = windows[0]
            assert top["camera"] == "street"
            assert top["caption"].startswith("A scripted scene from ")
            assert top["start"] >= started - 30
            assert [v["rule"] for v in top["verdicts"]] == ["person"]
            thumbnail = await api.get(top["thumbnail_url"])
            assert thumbnail.status_code == 200
            assert thumbnail.content[:2] == b"\xff\xd8"
            assert top["clip_url"] is not None
            clip = await api.get(top["clip_url"])
            assert clip.status_code == 200, clip.text
            assert clip.headers["content-type"] == "video/mp4"
            await _asked_about_the_period(api, engine, started)


async def _asked_about_the_period(
    api: httpx.AsyncClient, engine: RecordingEngine, started: float
) -> None:
    """A question about a period longer than one clip goes to the archive the committer
    writes, wherever it runs: the engine reads the windows' captions."""
    body = {"question": "What happened in the street?", "camera": "street", "since": started - 60}
    response = await api.post("/v1/ask", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["mode"] == "history"
    assert answer["no_evidence"] is False
    assert answer["windows"]
    assert {window["camera"] for window in answer["windows"]} == {"street"}
    assert "A scripted scene from " in engine.records_read[-1]


@pytest.mark.parametrize("topology", sorted(TOPOLOGIES))
async def test_an_alert_leaves_redis_after_the_hot_retention_and_is_served_from_the_archive(
    redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory, topology: str
) -> None:
    keys = Keys(prefix=f"alertup-{uuid.uuid4().hex[:8]}:")
    base = settings_for(redis_server.url, keys, tmp_path_factory.mktemp("vigil"))
    alerts = AlertSettings(hot_retention_h=HOT_RETENTION_H, summary_wait_s=0, archive_every_s=0.5)
    settings = base.model_copy(update={"archive": ArchiveSettings(batch_s=0.3), "alerts": alerts})
    admin, _ = await asyncio.to_thread(create_api_keys, redis_server.url, keys, "alerts")
    engine = RecordingEngine()
    client = aioredis.from_url(redis_server.url)
    with running(settings, redis_server.url, TOPOLOGIES[topology], engine):
        url = settings.api.base_url()
        await asyncio.to_thread(wait_until_up, url)
        headers = {"Authorization": f"Bearer {admin}"}
        async with httpx.AsyncClient(base_url=url, headers=headers, trust_env=False) as api:
            engine.detect_from_now("person")
            alert_id = await _opened(api)
            engine.stop_detecting("person")
            await _left_redis(client, keys, alert_id)
            detail = (await api.get(f"/v1/alerts/{alert_id}")).json()
            assert detail["state"] == "closed"
            assert detail["summary"] == SUMMARY
            kinds = [verdict["type"] for verdict in detail["verdicts"]]
            assert (kinds[0], kinds[-1]) == ("alert.opened", "alert.closed")
            evidence = await api.get(f"/v1/alerts/{alert_id}/evidence.mp4")
            assert evidence.status_code == 200, evidence.text
            with av.open(io.BytesIO(evidence.content)) as container:
                assert sum(1 for _ in container.decode(video=0)) >= 4
            listed = (await api.get("/v1/alerts", params={"rule": "person"})).json()["items"]
            assert [alert["id"] for alert in listed] == [alert_id]
            acked = await api.post(f"/v1/alerts/{alert_id}/acknowledge")
            assert acked.json()["acknowledged"] is True
    await client.aclose()


async def _opened(api: httpx.AsyncClient) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        items = (await api.get("/v1/alerts", params={"rule": "person"})).json()["items"]
        if items:
            return str(items[0]["id"])
        await asyncio.sleep(0.2)
    raise AssertionError("the pipeline opened no alert")


async def _left_redis(client: aioredis.Redis, keys: Keys, alert_id: str) -> None:
    """Closes (close_after_s 4), summarized, archived, then deleted from Redis."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if not await held(client, keys, alert_id):
            return
        await asyncio.sleep(0.3)
    raise AssertionError(f"alert {alert_id} is still in Redis")


async def _searched(api: httpx.AsyncClient) -> list[dict[str, object]]:
    params = {"q": "scripted scene", "camera": "street"}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        response = await api.get("/v1/search", params=params)
        assert response.status_code == 200, response.text
        windows: list[dict[str, object]] = response.json()["windows"]
        if windows:
            return windows
        await asyncio.sleep(0.5)
    raise AssertionError("no window became searchable")
