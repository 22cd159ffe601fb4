"""Closed alerts as the archive keeps them: read from Redis as they stand (record, windows,
and how many fields and windows they have, which tells a later change), turned into rows
with their summary embedded and their evidence JPEGs encoded as an MP4 clip once."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import redis.asyncio as aioredis

from agent.archive.alert_store import AlertRow, AlertStore, alert_text, clip_path
from agent.archive.embedder import Embedder
from agent.pipeline.alert_records import AlertRecord, record_from_hash
from streams.bus.keys import Keys
from streams.picture.mp4 import VideoError, encode_mp4

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AlertSnapshot:
    record: AlertRecord
    windows: list[Any]
    fields: int  # the hash's field count: a summary or an acknowledgement adds fields
    summarized: bool
    feedback_changes: int = 0  # feedback given again replaces a field

    @property
    def version(self) -> tuple[int, int, int]:
        """Changes whenever the alert does once closed (fields are only ever added, and
        feedback counts its changes)."""
        return self.fields, len(self.windows), self.feedback_changes


async def read_snapshots(
    client: aioredis.Redis, keys: Keys, alert_ids: Sequence[str]
) -> dict[str, AlertSnapshot]:
    """The alerts of ``alert_ids`` that Redis still holds."""
    pipe = client.pipeline(transaction=True)  # a record and its windows as of one moment
    for alert_id in alert_ids:
        pipe.hgetall(keys.alert(alert_id))
        pipe.lrange(keys.alert_windows(alert_id), 0, -1)
    replies = await pipe.execute() if alert_ids else []
    snapshots = {}
    for index, alert_id in enumerate(alert_ids):
        raw = cast(dict[bytes, bytes], replies[2 * index])
        if raw.get(b"id"):
            windows = [json.loads(item) for item in cast(list[bytes], replies[2 * index + 1])]
            changes = int(raw.get(b"feedback_changes", b"0"))
            snapshots[alert_id] = AlertSnapshot(
                record_from_hash(raw), windows, len(raw), b"summarized_at" in raw, changes
            )
    return snapshots


class AlertRows:
    """Makes archive rows of snapshots: the clip of an alert already archived is kept, a
    missing one is encoded from the evidence frames Redis still holds."""

    def __init__(
        self,
        client: aioredis.Redis,
        keys: Keys,
        store: AlertStore,
        embedder: Embedder,
        fps: float,
    ) -> None:
        self._client = client
        self._keys = keys
        self._store = store
        self._embedder = embedder
        self._fps = fps

    async def rows(self, snapshots: Sequence[AlertSnapshot]) -> list[AlertRow]:
        clips = await self._store.clip_uris([snapshot.record.id for snapshot in snapshots])
        for snapshot in snapshots:
            if snapshot.record.id not in clips:
                clip = await self._store_clip(snapshot.record)
                if clip is not None:
                    clips[snapshot.record.id] = clip
        texts = [alert_text(snapshot.record) for snapshot in snapshots]
        vectors = await asyncio.to_thread(self._embedder.embed, texts)
        return [
            AlertRow(snapshot.record, snapshot.windows, clips.get(snapshot.record.id), vector)
            for snapshot, vector in zip(snapshots, vectors, strict=True)
        ]

    async def _store_clip(self, record: AlertRecord) -> str | None:
        """The evidence as an MP4 among the archive's files; None without usable frames."""
        key = self._keys.evidence(record.id)
        jpegs = cast(list[bytes], await self._client.lrange(key, 0, -1))
        if not jpegs:
            return None
        first_s = record.evidence_clip_start or record.onset_at or record.opened_at
        times = [first_s + index / self._fps for index in range(len(jpegs))]
        try:
            video = await asyncio.to_thread(encode_mp4, jpegs, times)
        except VideoError as error:
            log.warning("alert %s: archived without its clip: %s", record.id, error)
            return None
        return await asyncio.to_thread(self._store.blobs.put, clip_path(record), video)
