"""Alerts matching a search, by words and by meaning over what was seen and the root cause:
the archive's best matches (ranked over all it holds) and the alerts it lacks yet (open, or
closed and waiting to be archived), read from Redis; together ranked the same two ways,
each alert once, as Redis holds it while it does.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Sequence
from typing import cast

import numpy as np
import redis.asyncio as aioredis

from agent.archive.alert_store import AlertStore, alert_text, fuse
from agent.archive.embedder import Embedder
from agent.archive.search import cosine_similarity
from agent.pipeline.alert_records import AlertFilter, AlertRecord, read_alerts
from streams.bus.keys import Keys

# Alerts read from Redis, and embedded, per search at most: every open one first (a
# (camera, rule) has one at a time), then the newest closed ones waiting to be archived.
HOT_SCAN_LIMIT = 200
_WORD = re.compile(r"\w+")


async def search_alerts(
    client: aioredis.Redis,
    keys: Keys,
    store: AlertStore | None,
    embedder: Embedder,
    text: str,
    wanted: AlertFilter,
    limit: int,
) -> list[AlertRecord]:
    """The best ``limit`` alerts matching ``wanted`` for ``text``, best first: among the
    archive's best ``limit`` (none without a ``store``) and those Redis holds that the
    archive lacks yet."""
    query = text.strip()
    (vector,) = await asyncio.to_thread(embedder.embed, [query])
    hot = await unarchived_alerts(client, keys, wanted)
    archived = [] if store is None else await store.search(query, vector, wanted, limit)
    held = {alert.id for alert in hot}
    rest = [alert for alert in archived if alert.id not in held]
    fresh = await read_alerts(client, keys, [alert.id for alert in rest])
    candidates = hot + [now or stored for stored, now in zip(rest, fresh, strict=True)]
    if not candidates:
        return []
    vectors = await asyncio.to_thread(embedder.embed, [alert_text(a) for a in candidates])
    return rank_alerts(query, vector, candidates, vectors)[:limit]


async def unarchived_alerts(
    client: aioredis.Redis, keys: Keys, wanted: AlertFilter
) -> list[AlertRecord]:
    """The alerts matching ``wanted`` that Redis holds and the archive lacks or holds
    stale: open ones and closed ones waiting to be archived, HOT_SCAN_LIMIT read at most."""
    alert_ids = await _unarchived_ids(client, keys, wanted.camera)
    records = await read_alerts(client, keys, alert_ids[:HOT_SCAN_LIMIT])
    return [record for record in records if record is not None and wanted.accepts(record)]


async def _unarchived_ids(client: aioredis.Redis, keys: Keys, camera: str | None) -> list[str]:
    """Open alert ids (of every camera Redis holds, or of ``camera``), then the newest
    closed ones waiting to be archived."""
    if camera is None:
        stored = cast(list[bytes], await client.hkeys(keys.cameras))
        cameras = sorted(name.decode() for name in stored)
    else:
        cameras = [camera]
    pipe = client.pipeline(transaction=False)
    for name in cameras:
        pipe.smembers(keys.open_alerts(name))
    pipe.zrevrange(keys.alerts_to_archive, 0, HOT_SCAN_LIMIT - 1)
    *open_sets, waiting = cast(list[set[bytes] | list[bytes]], await pipe.execute())
    open_ids = sorted(member.decode() for members in open_sets for member in members)
    return list(dict.fromkeys([*open_ids, *(member.decode() for member in waiting)]))


def rank_alerts(
    query: str, vector: np.ndarray, alerts: Sequence[AlertRecord], vectors: np.ndarray
) -> list[AlertRecord]:
    """``alerts`` (with the vectors of their text) ranked for ``query`` by words and by
    meaning, fused by reciprocal rank as the archive's are."""
    if not alerts:
        return []
    similarity = cosine_similarity(np.asarray(vectors), vector)
    by_meaning = [alerts[index] for index in np.argsort(-similarity, kind="stable")]
    return fuse([by_words(query, alerts), by_meaning], len(alerts))


def by_words(query: str, alerts: Sequence[AlertRecord]) -> list[AlertRecord]:
    """The alerts whose text has words of ``query``, best first: each word weighs more
    the fewer of the alerts have it (inverse document frequency)."""
    words = [set(_WORD.findall(alert_text(alert).lower())) for alert in alerts]
    wanted = set(_WORD.findall(query.lower()))
    frequency = {word: sum(word in found for found in words) for word in wanted}
    weight = {
        word: math.log((len(alerts) + 1) / count) for word, count in frequency.items() if count
    }
    scores = [sum(weight.get(word, 0.0) for word in found & wanted) for found in words]
    ranked = sorted(range(len(alerts)), key=lambda index: -scores[index])
    return [alerts[index] for index in ranked if scores[index] > 0]
