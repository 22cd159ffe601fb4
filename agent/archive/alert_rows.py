"""Closed alerts as the archive keeps them: read from Redis as they stand (record, windows,
and how many fields and windows they have, which tells a later change), turned into rows
with their summary embedded, their evidence JPEGs encoded as an MP4 clip once, and their
context clip (``context_clips``) kept once, from the frame buffer."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import redis.asyncio as aioredis

from agent.archive.alert_store import AlertRow, AlertStore, alert_text, clip_path
from agent.archive.context_clips import keep_context_clip
from agent.archive.embedder import Embedder
from agent.archive.settings import EvalSettings
from agent.pipeline.alert_records import AlertRecord, record_from_hash
from streams.bus.keys import Keys
from streams.picture.mp4 import VideoError, encode_mp4

log = logging.getLogger(__name__)

# The fields the archiver itself writes to an alert's hash (they are not changes to it)
CONTEXT_FIELDS = frozenset(
    {b"context_tried", b"context_clip", b"context_clip_start", b"context_clip_end"}
)

# Sets fields on an alert's hash only while it exists (a moved alert is never recreated).
_SET_IF_HELD = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
"""


@dataclass(frozen=True, slots=True)
class AlertSnapshot:
    record: AlertRecord
    windows: list[Any]
    fields: int  # the hash's field count (less CONTEXT_FIELDS): a summary or an
    # acknowledgement adds fields
    summarized: bool
    feedback_changes: int = 0  # feedback given again replaces a field
    context_tried: bool = False  # its context clip was kept, or could not be

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
            snapshots[alert_id] = AlertSnapshot(
                record_from_hash(raw),
                windows,
                len(raw.keys() - CONTEXT_FIELDS),
                b"summarized_at" in raw,
                int(raw.get(b"feedback_changes", b"0")),
                b"context_tried" in raw,
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
        context: EvalSettings | None = None,
    ) -> None:
        self._client = client
        self._keys = keys
        self._store = store
        self._embedder = embedder
        self._fps = fps
        self.context = context or EvalSettings()
        self._set_if_held = client.register_script(_SET_IF_HELD)

    async def rows(self, snapshots: Sequence[AlertSnapshot]) -> list[AlertRow]:
        clips = await self._store.clip_uris([snapshot.record.id for snapshot in snapshots])
        for snapshot in snapshots:
            if snapshot.record.id not in clips:
                clip = await self._store_clip(snapshot.record)
                if clip is not None:
                    clips[snapshot.record.id] = clip
        records = [await self._with_context(snapshot) for snapshot in snapshots]
        vectors = await asyncio.to_thread(self._embedder.embed, list(map(alert_text, records)))
        return [
            AlertRow(record, snapshot.windows, clips.get(record.id), vector)
            for snapshot, record, vector in zip(snapshots, records, vectors, strict=True)
        ]

    async def _with_context(self, snapshot: AlertSnapshot) -> AlertRecord:
        """The record with its context clip, kept now if it is closed and was never tried;
        the outcome is written back to Redis (only while Redis holds the alert)."""
        record = snapshot.record
        if snapshot.context_tried or record.state != "closed" or record.closed_at is None:
            return record
        onset = record.onset_at or record.opened_at
        bounds = self.context.bounds(onset, record.last_seen or record.closed_at)
        try:
            clip = await keep_context_clip(
                self._client, self._keys, self._store.blobs, record.camera, record.id, bounds,
                self._fps,
            )  # fmt: skip
        except VideoError as error:
            log.warning("alert %s: no context clip: %s", record.id, error)
            clip = None
        fields = {"context_tried": "1"}
        if clip is not None:
            fields |= {"context_clip": clip.uri, "context_clip_start": f"{clip.start:.3f}"}
            fields |= {"context_clip_end": f"{clip.end:.3f}"}
            record = record.model_copy(
                update={"context_clip": clip.uri, "context_clip_start": clip.start}
                | {"context_clip_end": clip.end}
            )
        flat = [item for pair in fields.items() for item in pair]
        await self._set_if_held(keys=[self._keys.alert(record.id)], args=flat)
        return record

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
