"""The archive in both topologies: what `vigil up` runs in one process (real ingest of the
demo footage, scheduler, worker with a scripted engine, API, archiver), and the archiver
run apart as its own role beside the others. Each analysed window's caption becomes
searchable at /v1/search with its thumbnail and, while its frames are buffered, its clip."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from agent.archive.settings import ArchiveSettings
from agent.runtime.config import VigilSettings
from agent.runtime.embedded_redis import EmbeddedRedis
from agent.runtime.ingest import follow_store_in_background, ingest_from_store
from agent.runtime.service import Roles, run_agents
from agent.runtime.startup import connect
from streams.keys import Keys
from tests.api.conftest import create_api_keys
from tests.dashboard.conftest import RecordingEngine, settings_for, wait_until_up

TOPOLOGIES = {
    "vigil up": [Roles(api=True, archiver=True)],
    "roles apart": [Roles(api=True), Roles(scheduler=False, worker=False, archiver=True)],
}


@contextmanager
def running(settings: VigilSettings, redis_url: str, processes: list[Roles]) -> Iterator[None]:
    """Each entry of ``processes`` runs as `run_agents` does in one process, in a thread."""
    stop = threading.Event()
    engine = RecordingEngine()
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
    with running(settings, redis_server.url, TOPOLOGIES[topology]):
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
