"""Alert search against real Redis, real LanceDB and the real embedding model: an open alert
is found before it is archived, by words and by meaning, within the search's filters; once
archived it is found once, however Redis and the archive both hold it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from agent.archive import alert_search
from agent.archive.alert_mover import AlertMover
from agent.archive.alert_rows import AlertRows
from agent.archive.alert_search import by_words, search_alerts, unarchived_alerts
from agent.archive.alert_store import AlertStore
from agent.archive.blobs import BlobStore
from agent.archive.embedder import Embedder
from agent.archive.settings import ArchiveSettings
from agent.pipeline.alert_book import AlertBook
from agent.pipeline.alert_records import AlertFilter, AlertRecord
from agent.pipeline.alert_state import WindowResult
from agent.pipeline.rules import Rule
from agent.pipeline.settings import AlertSettings
from streams.bus.keys import Keys

RULE = Rule(id="gate", question="Is the gate blocked?", close_after_s=8.0, cooldown_s=0.0)
TRUCK = "A delivery truck stands in front of the gate, blocking it."
PERSON = "A person sits on the edge of the loading dock."


@pytest.fixture
async def store(tmp_path: Path, embedder: Embedder) -> AlertStore:
    archive = ArchiveSettings()
    return await AlertStore.open(archive, tmp_path, embedder.dim, BlobStore.open(archive, tmp_path))


async def open_alert(client: aioredis.Redis, keys: Keys, camera: str, seen: str) -> str:
    """An alert opened a minute ago on ``camera`` (a camera Redis holds) by what was
    ``seen``."""
    await client.hset(keys.cameras, camera, "{}")
    at = round((time.time() - 60) * 1000)
    event = await AlertBook(client, keys).apply(
        camera, RULE, WindowResult(at, at + 8000, True, 0.9, seen)
    )
    assert event is not None
    return event.alert_id


async def close_alert(client: aioredis.Redis, keys: Keys, camera: str) -> None:
    at = round((time.time() - 40) * 1000)
    closing = WindowResult(at, at + 8000, False, 0.1, "the gate is clear")
    assert await AlertBook(client, keys).apply(camera, RULE, closing) is not None


def ids(alerts: list[AlertRecord]) -> list[str]:
    return [alert.id for alert in alerts]


async def test_an_open_alert_is_found_before_it_is_archived_and_once_after(
    aclient: aioredis.Redis, keys: Keys, store: AlertStore, embedder: Embedder
) -> None:
    truck = await open_alert(aclient, keys, "gate-3", TRUCK)
    person = await open_alert(aclient, keys, "dock", PERSON)

    async def search(text: str, wanted: AlertFilter) -> list[AlertRecord]:
        return await search_alerts(aclient, keys, store, embedder, text, wanted, 10)

    assert await store.count() == 0
    found = await search("truck blocking the gate", AlertFilter())
    assert ids(found) == [truck, person]  # by words and by meaning
    assert found[0].state == "open"
    assert ids(await search("lorry in front of the entrance", AlertFilter())) == [truck, person]
    assert ids(await search("truck", AlertFilter(camera="dock"))) == [person]
    assert await search("truck", AlertFilter(state="closed")) == []

    await close_alert(aclient, keys, "gate-3")
    settings = AlertSettings(summary_wait_s=0.0)
    mover = AlertMover(aclient, keys, settings, store, AlertRows(aclient, keys, store, embedder, 4))
    assert await mover.archive_settled() == 1
    assert await store.count() == 1
    found = await search("truck blocking the gate", AlertFilter())
    assert ids(found) == [truck, person]
    assert found[0].state == "closed"
    # Its archived copy gone stale (acknowledged meanwhile, say): Redis and the archive
    # both hold it, and it is still listed once.
    await aclient.zadd(keys.alerts_to_archive, {truck: 1})
    assert ids(await search("truck blocking the gate", AlertFilter())) == [truck, person]


async def test_a_search_reads_a_bounded_number_of_alerts_from_redis(
    aclient: aioredis.Redis, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(alert_search, "HOT_SCAN_LIMIT", 2)
    for camera in ("a", "b", "c"):
        await open_alert(aclient, keys, camera, TRUCK)
    assert len(await unarchived_alerts(aclient, keys, AlertFilter())) == 2


def test_words_rank_the_rarer_matches_first_and_leave_out_alerts_without_any() -> None:
    def alert(alert_id: str, description: str) -> AlertRecord:
        return AlertRecord(
            id=alert_id, camera="gate", rule="gate", severity="high", question="?",
            state="open", acknowledged=False, opened_at=1.0, description=description,
        )  # fmt: skip

    alerts = [
        alert("al_1", "A van at the gate."),
        alert("al_2", "A truck at the gate."),
        alert("al_3", "A person at the door."),
    ]
    assert ids(by_words("truck at the gate", alerts)) == ["al_2", "al_1", "al_3"]
    assert ids(by_words("forklift", alerts)) == []
