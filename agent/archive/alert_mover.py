"""Closed alerts from Redis to the archive, so Redis holds open and recent alerts only.

Every ``archive_every_s`` the archiver's leader:

1. archives each closed alert once its summary is settled (written, failed, or not come
   within ``summary_wait_s``) and the frames after its close that its context clip keeps
   are buffered: the ``alerts-to-archive`` set lists them;
2. moves the alerts closed more than ``hot_retention_h`` ago: archives each as it stands
   now, then deletes its record, windows and evidence from Redis in one script that first
   checks the alert did not change since it was read (an acknowledgement meanwhile leaves
   it for the next round);
3. trims the alert event streams to the hot retention (the outbox no further than its
   consumer groups have read).

Alerts written before these indexes existed are indexed from the ``alerts`` stream once,
when an archiver first leads. Archiving first and writing rows by alert id make every
step safe to repeat: an archiver killed between the archive and the delete archives the
same row again next time. Open alerts never leave Redis.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any, cast

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from agent.archive.alert_rows import AlertRows, AlertSnapshot, read_snapshots
from agent.archive.alert_store import AlertStore
from agent.pipeline.alert_records import AlertKey, AlertRecord
from agent.pipeline.alert_state import EventType
from agent.pipeline.settings import AlertSettings
from streams.bus.keys import Keys

log = logging.getLogger(__name__)

BATCH = 20  # alerts archived per commit (their evidence is read and encoded together)
MOST_PER_ROUND = 2_000
EARLIER_BATCH = 500
HOUR_MS = 3_600_000

# Deletes an alert's keys unless it changed since it was read (fields or windows added,
# feedback given again).
_DELETE_IF_UNCHANGED = """
local own = 0  -- the archiver's own fields (context clip) are not changes to the alert
local names = {'context_tried', 'context_clip', 'context_clip_start', 'context_clip_end'}
for _, name in ipairs(names) do
  own = own + redis.call('HEXISTS', KEYS[1], name)
end
if redis.call('HLEN', KEYS[1]) - own ~= tonumber(ARGV[2]) then return 0 end
if redis.call('LLEN', KEYS[3]) ~= tonumber(ARGV[3]) then return 0 end
if (redis.call('HGET', KEYS[1], 'feedback_changes') or '0') ~= ARGV[4] then return 0 end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
for index = 4, #KEYS do redis.call('ZREM', KEYS[index], ARGV[1]) end
return 1
"""


class AlertMover:
    def __init__(
        self,
        client: aioredis.Redis,
        keys: Keys,
        settings: AlertSettings,
        store: AlertStore,
        rows: AlertRows,
    ) -> None:
        self._client = client
        self._keys = keys
        self._settings = settings
        self.store = store
        self._rows = rows
        self._delete_if_unchanged = client.register_script(_DELETE_IF_UNCHANGED)
        self._due = 0.0  # monotonic seconds
        self._indexed_earlier = False
        self._cameras: set[str] = set()  # whose alert streams are trimmed

    async def run_due(self) -> None:
        now = time.monotonic()
        if now < self._due:
            return
        if not self._indexed_earlier:
            await index_earlier_alerts(self._client, self._keys)
            self._indexed_earlier = True
        archived = await self.archive_settled()
        moved = await self.move_expired()
        await self.trim_streams()
        if archived or moved:
            log.info("alerts: %d archived, %d moved out of Redis", archived, moved)
        self._due = now + self._settings.archive_every_s

    async def archive_settled(self) -> int:
        """Archives the closed alerts waiting for it whose summary is settled."""
        waiting = await self._oldest(self._keys.alerts_to_archive, "+inf")
        snapshots = await read_snapshots(self._client, self._keys, waiting)
        now_ms = _now_ms()
        settle_ms = now_ms - self._settings.summary_wait_s * 1000
        context_ms = now_ms - self._rows.context.context_after_s * 1000  # its frames are in
        settled = [
            snapshot
            for snapshot in snapshots.values()
            if (snapshot.summarized or _closed_ms(snapshot.record) <= settle_ms)
            and _closed_ms(snapshot.record) <= context_ms
        ]
        for start in range(0, len(settled), BATCH):
            batch = settled[start : start + BATCH]
            await self.store.upsert(await self._rows.rows(batch))
            await self._client.zrem(self._keys.alerts_to_archive, *_ids(batch))
        gone = [alert_id for alert_id in waiting if alert_id not in snapshots]
        if gone:
            await self._client.zrem(self._keys.alerts_to_archive, *gone)
        return len(settled)

    async def move_expired(self) -> int:
        """Archives, then deletes from Redis, the alerts past the hot retention."""
        cutoff_ms = _now_ms() - round(self._settings.hot_retention_h * HOUR_MS)
        expired = await self._oldest(self._keys.closed_alerts, cutoff_ms)
        moved = 0
        for start in range(0, len(expired), BATCH):
            ids = expired[start : start + BATCH]
            snapshots = await read_snapshots(self._client, self._keys, ids)
            self._cameras |= {snapshot.record.camera for snapshot in snapshots.values()}
            await self.store.upsert(await self._rows.rows(list(snapshots.values())))
            for alert_id in ids:
                moved += await self._delete(alert_id, snapshots.get(alert_id))
        return moved

    async def trim_streams(self) -> None:
        """Drops alert events older than the hot retention: the alerts they tell of have
        left Redis (or, open, are listed by the index). The outbox keeps what a consumer
        group has not read or acknowledged yet."""
        min_id = _now_ms() - round(self._settings.hot_retention_h * HOUR_MS)
        streams = [self._keys.alerts, *await self._camera_streams()]
        for stream in streams:
            await self._client.xtrim(stream, minid=min_id, approximate=False)
        outbox_min = min(min_id, await _unread_floor(self._client, self._keys.outbox))
        await self._client.xtrim(self._keys.outbox, minid=outbox_min, approximate=False)

    async def _delete(self, alert_id: str, snapshot: AlertSnapshot | None) -> int:
        """Deletes a moved alert's keys (only its index entries when it is already gone);
        0 when it changed since ``snapshot`` was read."""
        camera = snapshot.record.camera if snapshot else await self._camera_of(alert_id)
        indexes = [self._keys.alert_index, self._keys.closed_alerts, self._keys.alerts_to_archive]
        if camera is not None:
            indexes.append(self._keys.camera_alert_index(camera))
        fields, windows, feedback = snapshot.version if snapshot else (0, 0, 0)
        data = [self._keys.alert(alert_id), self._keys.evidence(alert_id)]
        data.append(self._keys.alert_windows(alert_id))
        deleted = await self._delete_if_unchanged(
            keys=[*data, *indexes], args=[alert_id, fields, windows, feedback]
        )
        return int(cast(int, deleted)) if snapshot else 0

    async def _camera_of(self, alert_id: str) -> str | None:
        """The camera of an alert whose record is gone, from its moved archive row."""
        archived = await self.store.alert(alert_id)
        return archived.record.camera if archived else None

    async def _camera_streams(self) -> list[str]:
        configured = cast(list[bytes], await self._client.hkeys(self._keys.cameras))
        cameras = self._cameras | {camera.decode() for camera in configured}
        return [self._keys.camera_alerts(camera) for camera in sorted(cameras)]

    async def _oldest(self, index: str, high: str | int) -> list[str]:
        members = cast(
            list[bytes],
            await self._client.zrangebyscore(index, "-inf", high, start=0, num=MOST_PER_ROUND),
        )
        return [member.decode() for member in members]


async def index_earlier_alerts(client: aioredis.Redis, keys: Keys) -> int:
    """Indexes the alerts written before the indexes existed, from their opening events
    on the ``alerts`` stream (those already indexed keep their place); returns how many
    were read."""
    after, read = "-", 0
    while True:
        entries = cast(
            list[tuple[bytes, dict[bytes, bytes]]],
            await client.xrange(keys.alerts, min=after, max="+", count=EARLIER_BATCH),
        )
        opened = [
            fields[b"alert_id"].decode()
            for _, fields in entries
            if fields.get(b"type") == EventType.OPENED.value.encode()
        ]
        snapshots = await read_snapshots(client, keys, opened)
        pipe = client.pipeline(transaction=False)
        for snapshot in snapshots.values():
            _index_earlier(pipe, keys, snapshot.record)
        await pipe.execute()
        read += len(snapshots)
        if len(entries) < EARLIER_BATCH:
            return read
        after = "(" + entries[-1][0].decode()


def _index_earlier(pipe: Pipeline, keys: Keys, record: AlertRecord) -> None:
    opened = {record.id: AlertKey.of(record).opened_ms}
    pipe.zadd(keys.alert_index, opened, nx=True)
    pipe.zadd(keys.camera_alert_index(record.camera), opened, nx=True)
    if record.state == "closed":
        closed = {record.id: round(_closed_ms(record))}
        pipe.zadd(keys.closed_alerts, closed, nx=True)
        pipe.zadd(keys.alerts_to_archive, closed, nx=True)


async def _unread_floor(client: aioredis.Redis, stream: str) -> int:
    """The oldest outbox time (ms) that a consumer group may still need: its oldest
    pending entry, or the last one it read; no limit without groups."""
    try:
        groups: list[dict[str, Any]] = await client.xinfo_groups(stream)
    except aioredis.ResponseError:  # no such stream yet
        return 2**63
    floor = 2**63
    for group in groups:
        last = _entry_ms(group["last-delivered-id"])
        if group["pending"]:
            summary: dict[str, Any] = await client.xpending(stream, group["name"])
            last = min(last, _entry_ms(summary["min"]))
        floor = min(floor, last)
    return floor


def _entry_ms(entry_id: bytes | str) -> int:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(text.partition("-")[0])


def _closed_ms(record: AlertRecord) -> float:
    return (record.closed_at or record.opened_at) * 1000


def _ids(snapshots: Sequence[AlertSnapshot]) -> list[str]:
    return [snapshot.record.id for snapshot in snapshots]


def _now_ms() -> int:
    return round(time.time() * 1000)
