"""/v1/search and /v1/archive/windows over a real archive (LanceDB and the embedding
model) behind a real API: filters before ranking, links, thumbnails, bad input, keys."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import redis

from agent.api.routes import search as search_routes
from agent.archive.blobs import BlobStore
from agent.archive.embedder import Embedder
from agent.archive.settings import ArchiveSettings
from agent.archive.store import ArchiveStore, WindowRow
from agent.pipeline.archive_records import RuleVerdict, WindowRecord
from agent.runtime.embedded_redis import EmbeddedRedis
from streams.bus.keys import Keys
from tests.api.conftest import LiveApi, api_settings, create_api_keys, running_api
from tests.conftest import free_port

NOW_MS = int(time.time() * 1000) // 1000 * 1000
HOUR_MS = 3_600_000
WINDOWS = [
    # (camera, hours ago, caption, detected rule or None)
    ("dock", 30, "A red forklift carries pallets across the loading dock.", "forklift"),
    ("dock", 2, "A person in a yellow vest walks along the forklift lane.", "person"),
    ("dock", 1, "The loading dock is empty under bright lights.", None),
    ("gate", 1, "A white delivery truck waits in front of the closed gate.", "vehicle"),
    ("gate", 0.5, "A man on a bicycle rides through the open gate.", "person"),
]
THUMBNAIL = b"\xff\xd8 a thumbnail \xff\xd9"


def records() -> list[WindowRecord]:
    made = []
    for camera, hours_ago, caption, detected in WINDOWS:
        start_ms = NOW_MS - round(hours_ago * HOUR_MS)
        verdicts = tuple(
            RuleVerdict(rule, rule == detected, 0.8, caption)
            for rule in ("forklift", "person", "vehicle")
        )
        made.append(WindowRecord(camera, start_ms, start_ms + 8000, caption, verdicts, None, None))
    return made


async def fill_archive(data_dir: Path) -> None:
    embedder = Embedder.load(ArchiveSettings().embedding_model)
    store = await ArchiveStore.open(ArchiveSettings(), data_dir, embedder.dim)
    made = records()
    vectors = embedder.embed([record.caption for record in made])
    rows = []
    for record, vector in zip(made, vectors, strict=True):
        uri = store.blobs.put(f"thumbnails/{record.camera_id}/{record.start_ms}.jpg", THUMBNAIL)
        rows.append(WindowRow(record, uri, vector))
    await store.upsert_windows(rows)


@pytest.fixture(scope="module")
def archive_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("search-data")
    asyncio.run(fill_archive(data_dir))
    return data_dir


@contextmanager
def archive_api(
    redis_url: str, data_dir: Path, api: Mapping[str, object] | None = None
) -> Iterator[LiveApi]:
    keys = Keys(prefix=f"search-{uuid.uuid4().hex[:8]}:")
    port = free_port()
    admin, read = create_api_keys(redis_url, keys)
    settings = api_settings(port, api).model_copy(update={"data_dir": data_dir})
    with running_api(redis_url, settings, keys), redis.Redis.from_url(redis_url) as client:
        yield LiveApi(f"http://127.0.0.1:{port}", keys, admin, read, client, redis_url)


@pytest.fixture(scope="module")
def search_api(redis_server: EmbeddedRedis, archive_dir: Path) -> Iterator[LiveApi]:
    with archive_api(redis_server.url, archive_dir) as api:
        yield api


def test_search_finds_by_meaning_and_words_and_links_each_window(search_api: LiveApi) -> None:
    reader = search_api.client(search_api.read)
    response = reader.get("/v1/search", params={"q": "lorry blocking the entrance"})
    assert response.status_code == 200, response.text
    body = response.json()
    top = body["windows"][0]
    assert top["caption"] == WINDOWS[3][2]  # by meaning: no word in common
    assert top["camera"] == "gate"
    assert top["end"] - top["start"] == 8.0
    assert {v["rule"]: v["detected"] for v in top["verdicts"]}["vehicle"] is True
    assert top["clip_url"] is None  # no frames buffered any more
    thumbnail = reader.get(top["thumbnail_url"])
    assert thumbnail.status_code == 200
    assert thumbnail.headers["content-type"] == "image/jpeg"
    assert thumbnail.content == THUMBNAIL
    one = reader.get(f"/v1/archive/windows/{top['id']}").json()
    assert {**one, "score": top["score"]} == top
    words = reader.get("/v1/search", params={"q": "bicycle"}).json()["windows"]
    assert words[0]["caption"] == WINDOWS[4][2]


def test_filters_apply_before_ranking(search_api: LiveApi) -> None:
    reader = search_api.client(search_api.read)

    def captions(**params: object) -> list[str]:
        response = reader.get("/v1/search", params={"q": "a person walking", **params})
        assert response.status_code == 200, response.text
        return [window["caption"] for window in response.json()["windows"]]

    assert set(captions(camera="dock")) <= {
        caption for cam, _, caption, _ in WINDOWS if cam == "dock"
    }
    assert captions(camera="dock", rule="forklift") == [WINDOWS[0][2]]
    since = (NOW_MS - 1.5 * HOUR_MS) / 1000
    assert set(captions(since=since)) == {WINDOWS[2][2], WINDOWS[3][2], WINDOWS[4][2]}
    until = (NOW_MS - 10 * HOUR_MS) / 1000
    assert captions(until=until) == [WINDOWS[0][2]]
    assert captions(camera="nowhere") == []


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/v1/search", {}, 422),
        ("/v1/search", {"q": ""}, 422),
        ("/v1/search", {"q": "x" * 501}, 422),
        ("/v1/search", {"q": "truck", "camera": "a b"}, 422),
        ("/v1/search", {"q": "truck", "camera": "x' OR '1'='1"}, 422),
        ("/v1/search", {"q": "truck", "limit": 0}, 422),
        ("/v1/search", {"q": "truck", "since": -1}, 422),
        ("/v1/search", {"q": "   "}, 422),
        ("/v1/archive/windows/dock:12", {}, 404),
        ("/v1/archive/windows/dock:12/thumbnail.jpg", {}, 404),
        ("/v1/archive/windows/not-a-window", {}, 422),
    ],
)
def test_bad_requests_are_clear_errors(
    search_api: LiveApi, path: str, params: dict[str, object], status: int
) -> None:
    response = search_api.client(search_api.read).get(path, params=params)
    assert response.status_code == status, response.text
    assert response.json()["detail"]


def test_search_needs_a_key(search_api: LiveApi) -> None:
    assert search_api.client(None).get("/v1/search", params={"q": "truck"}).status_code == 401


def test_a_search_past_its_time_budget_is_a_clear_504(
    redis_server: EmbeddedRedis, archive_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def endless(*args: object) -> list[object]:
        await asyncio.Event().wait()  # an archive that never answers
        return []

    with archive_api(redis_server.url, archive_dir, {"search_timeout_s": 0.5}) as api:
        reader = api.client(api.read)
        assert reader.get("/v1/search", params={"q": "truck"}).status_code == 200
        monkeypatch.setattr(search_routes, "search_windows", endless)
        started = time.monotonic()
        slow = reader.get("/v1/search", params={"q": "truck"})
        assert slow.status_code == 504
        assert "time budget of 0.5 s (api.search_timeout_s)" in slow.json()["detail"]
        assert time.monotonic() - started < 20  # answered at the budget, not never


def test_questions_over_the_cap_are_429_and_the_slot_comes_back(
    redis_server: EmbeddedRedis, archive_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A flood of searches from one key is refused at once instead of piling up work."""
    entered = threading.Event()

    async def endless(*args: object) -> list[object]:
        entered.set()
        await asyncio.Event().wait()  # held until the time budget ends it
        return []

    overrides = {"search_timeout_s": 3.0, "questions_max_per_key": 1}
    with archive_api(redis_server.url, archive_dir, overrides) as api:
        reader = api.client(api.read)
        monkeypatch.setattr(search_routes, "search_windows", endless)
        first: list[int] = []
        holder = threading.Thread(
            target=lambda: first.append(reader.get("/v1/search", params={"q": "a"}).status_code)
        )
        holder.start()
        assert entered.wait(10)
        refused = reader.get("/v1/search", params={"q": "b"})
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "5"
        assert "questions_max_per_key 1" in refused.json()["detail"]
        assert api.client(api.admin).get("/v1/search", params={"q": "c"}).status_code == 504
        holder.join(20)
        assert first == [504]
        monkeypatch.undo()
        assert reader.get("/v1/search", params={"q": "d"}).status_code == 200


def test_a_slow_thumbnail_read_does_not_stall_the_event_loop(
    search_api: LiveApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = search_api.client(search_api.read)
    window = reader.get("/v1/search", params={"q": "bicycle"}).json()["windows"][0]
    reading, release = threading.Event(), threading.Event()
    get = BlobStore.get

    def slow_get(store: BlobStore, key: str) -> bytes | None:
        reading.set()
        release.wait(30)  # an object store that takes its time
        return get(store, key)

    monkeypatch.setattr(BlobStore, "get", slow_get)
    answers: list[httpx.Response] = []
    fetch = threading.Thread(target=lambda: answers.append(reader.get(window["thumbnail_url"])))
    fetch.start()
    try:
        assert reading.wait(30)
        with httpx.Client(base_url=search_api.url, timeout=10.0, trust_env=False) as probe:
            assert probe.get("/healthz").status_code == 200  # while the read is under way
    finally:
        release.set()
        fetch.join(30)
    assert answers[0].status_code == 200
    assert answers[0].content == THUMBNAIL
