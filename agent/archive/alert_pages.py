"""Pages of alerts over Redis and the archive as one list, newest first.

Redis holds open and recent alerts, the archive those past the hot retention (and recent
closed ones too, once archived: the copy in Redis wins while it is there). A page reads
Redis's index down from the cursor, then the archive over the same stretch, and merges
them by (opened time, id); the cursor is the key of the page's last alert, so paging on
works wherever each alert lives by then.
"""

from __future__ import annotations

from typing import cast

import redis.asyncio as aioredis

from agent.archive.alert_store import AlertStore
from agent.pipeline.alert_records import (
    AlertFilter,
    AlertKey,
    AlertRecord,
    list_hot_alerts,
)
from streams.bus.keys import Keys


async def page_alerts(
    client: aioredis.Redis,
    keys: Keys,
    archive: AlertStore | None,
    wanted: AlertFilter,
    limit: int,
    before: AlertKey | None,
) -> tuple[list[AlertRecord], AlertKey | None]:
    """Up to ``limit`` alerts below ``before``, newest first, and where the next page
    starts (None: no more)."""
    hot = await list_hot_alerts(client, keys, wanted, limit, before)
    archived: list[AlertRecord] = []
    if archive is not None:
        archived = await archive.page(wanted, before, hot.floor, limit)
        archived = await _not_in_redis(client, keys, archived)
    merged = {alert.id: alert for alert in archived} | {alert.id: alert for alert in hot.items}
    items = sorted(merged.values(), key=AlertKey.of, reverse=True)[:limit]
    if len(items) == limit:
        return items, AlertKey.of(items[-1])
    return items, hot.floor  # not None: Redis's index was read only down to it


async def _not_in_redis(
    client: aioredis.Redis, keys: Keys, alerts: list[AlertRecord]
) -> list[AlertRecord]:
    """The archived alerts that Redis no longer holds (its copy, maybe changed, wins)."""
    pipe = client.pipeline(transaction=False)
    for alert in alerts:
        pipe.zscore(keys.alert_index, alert.id)
    scores = cast(list[float | None], await pipe.execute() if alerts else [])
    return [alert for alert, score in zip(alerts, scores, strict=True) if score is None]


async def period_alerts(
    client: aioredis.Redis,
    keys: Keys,
    archive: AlertStore | None,
    wanted: AlertFilter,
    limit: int,
    page: int = 200,
) -> list[AlertRecord]:
    """The alerts ``wanted`` selects, recent and archived, newest first, at most ``limit``."""
    found: list[AlertRecord] = []
    before: AlertKey | None = None
    while len(found) < limit:
        alerts, before = await page_alerts(client, keys, archive, wanted, page, before)
        found += alerts
        if before is None:
            break
    return found[:limit]
