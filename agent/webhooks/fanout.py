"""From the ``outbox`` stream (group ``dispatch``) into each matching subscription's queue.

A batch of events is read, the payload of each is built once, and the pushes to every
matching queue are written with the XACK in one transaction: an event is acked exactly
when it is queued everywhere it goes. Entries a crashed dispatcher left pending are
claimed after ``CLAIM_IDLE_MS``. An event that cannot be read (or whose alert record does
not parse) goes to the group's dead letters at once; one that fails otherwise is left
pending and raised (the dispatcher restarts), and goes there after ``MAX_FAILURES``
tries (``streams/bus/dead_letters.py``); the rest of its batch is queued meanwhile.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis

from agent.pipeline.alert_records import AlertRecord, record_from_hash
from agent.webhooks.messages import Message, webhook_body
from agent.webhooks.queue import WebhookQueue
from agent.webhooks.report_body import report_body
from agent.webhooks.subscriptions import Subscription, SubscriptionStore, matches
from streams.bus.consumer_group import Entry, GroupReader
from streams.bus.consumer_group import ensure_group as ensure_stream_group
from streams.bus.dead_letters import DeadLetters, unreadable
from streams.bus.keys import DISPATCH_GROUP, Keys

log = logging.getLogger(__name__)
BATCH = 200
READ_BLOCK_MS = 1000
CLAIM_IDLE_MS = 60_000


async def ensure_group(client: aioredis.Redis, keys: Keys) -> None:
    await ensure_stream_group(client, keys.outbox, DISPATCH_GROUP)


class Fanout:
    def __init__(
        self,
        client: aioredis.Redis,
        keys: Keys,
        queue: WebhookQueue,
        consumer: str,
        base_url: str,
        queued: Callable[[set[str]], None],
    ) -> None:
        self._client = client
        self._keys = keys
        self._queue = queue
        self._reader = GroupReader(
            client, keys.outbox, DISPATCH_GROUP, consumer, BATCH, CLAIM_IDLE_MS
        )
        self._base_url = base_url
        self._queued = queued  # told which subscriptions got messages
        self.dead_letters = DeadLetters(client, keys, DISPATCH_GROUP)

    async def step(self, block_ms: int = READ_BLOCK_MS) -> int:
        """Moves one batch (reclaimed, own pending, or new); returns how many events."""
        entries = await self._reader.next_batch(block_ms)
        if entries:
            await self._route(entries)
        return len(entries)

    async def _route(self, entries: list[Entry]) -> None:
        subscriptions = await SubscriptionStore(self._client, self._keys).all()
        alerts = await self._alerts(entries)
        touched: set[str] = set()
        failed: list[tuple[Entry, Exception]] = []
        now = time.time()
        async with self._client.pipeline(transaction=True) as pipe:
            for entry in entries:
                try:
                    touched |= self._queue_event(pipe, *entry, subscriptions, alerts, now)
                except Exception as error:  # building a message: no I/O, nothing transient
                    failed.append((entry, error))
            bad = {entry[0] for entry, _ in failed}
            self.dead_letters.queue_ack(pipe, [e for e, _ in entries if e not in bad])
            await pipe.execute()
        if touched:
            self._queued(touched)
        await self._count_failures(failed)

    async def _count_failures(self, failed: list[tuple[Entry, Exception]]) -> None:
        """Dead-letters what failed for good; raises the first failure that may be retried."""
        retry = [
            error for entry, error in failed if not await self.dead_letters.failed(entry, error)
        ]
        if retry:
            raise retry[0]

    def _queue_event(
        self,
        pipe: Any,
        entry_id: bytes,
        fields: dict[bytes, bytes],
        subscriptions: list[Subscription],
        alerts: dict[str, dict[bytes, bytes]],
        now: float,
    ) -> set[str]:
        event = _event(fields)
        payload = _payload(event)
        facts = {
            name: str(payload.get(name, "")) for name in ("type", "camera", "rule", "severity")
        }
        targets = [sub for sub in subscriptions if matches(sub, facts)]
        if not targets:
            return set()
        if event.get("report_id"):
            body = report_body(payload, self._base_url, now)
        else:
            raw_alert = alerts.get(event.get("alert_id", ""))
            alert = _alert(raw_alert) if raw_alert and raw_alert.get(b"id") else None
            body = webhook_body(payload, alert, self._base_url, now)
        message = Message(
            id=f"msg_{entry_id.decode()}",
            event_type=event.get("type", ""),
            body=body,
            queued_at=now,
        )
        touched = {subscription.id for subscription in targets}
        self._queue.push(pipe, touched, message)
        return touched

    async def _alerts(self, entries: list[Entry]) -> dict[str, dict[bytes, bytes]]:
        ids = sorted(
            {fields.get(b"alert_id", b"").decode(errors="replace") for _, fields in entries} - {""}
        )
        pipe = self._client.pipeline(transaction=False)
        for alert_id in ids:
            pipe.hgetall(self._keys.alert(alert_id))
        return dict(zip(ids, await pipe.execute(), strict=True))


def _event(fields: dict[bytes, bytes]) -> dict[str, str]:
    """The outbox event's fields; an entry that is neither an alert event nor a report's
    (no type, or no alert or report id) is poison: subscribers must never receive it."""
    with unreadable("the outbox event"):
        event = {key.decode(): value.decode() for key, value in fields.items()}
        subject = "report_id" if event.get("type", "").startswith("report.") else "alert_id"
        missing = [name for name in ("type", subject) if not event.get(name)]
        if missing:
            raise ValueError(f"not an alert or report event: no {' or '.join(missing)}")
        return event


def _alert(raw: dict[bytes, bytes]) -> AlertRecord:
    with unreadable("the alert record"):
        return record_from_hash(raw)


def _payload(event: dict[str, str]) -> dict[str, Any]:
    try:
        payload = json.loads(event.get("payload", "{}"))
    except json.JSONDecodeError:
        log.error("outbox event %s has a payload that is not JSON", event.get("alert_id"))
        payload = {}
    merged: dict[str, Any] = {**event, **(payload if isinstance(payload, dict) else {})}
    merged.pop("payload", None)
    return merged
