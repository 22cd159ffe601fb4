"""Alerts matching a search, from the archive: their descriptions and root-cause summaries
ranked by words and by meaning, each shown as Redis holds it while it still does."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from agent.archive.alert_store import AlertStore
from agent.archive.embedder import Embedder
from agent.pipeline.alert_records import AlertFilter, AlertRecord, read_alert
from streams.bus.keys import Keys


async def search_alerts(
    client: aioredis.Redis,
    keys: Keys,
    store: AlertStore,
    embedder: Embedder,
    text: str,
    wanted: AlertFilter,
    limit: int,
) -> list[AlertRecord]:
    """The best ``limit`` archived alerts matching ``wanted`` for ``text``, best first."""
    vectors = await asyncio.to_thread(embedder.embed, [text.strip()])
    found = await store.search(text.strip(), vectors[0], wanted, limit)
    fresh = await asyncio.gather(*(read_alert(client, keys, alert.id) for alert in found))
    return [now or archived for archived, now in zip(found, fresh, strict=True)]
