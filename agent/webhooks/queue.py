"""A subscription's queue in Redis: messages in order, the head tried until it succeeds or dies.

Only the dispatcher holding the subscription's lease pops or rewrites the head, so the
queue is delivered in order; each outcome is written together with its log entry and
counters in one transaction.
"""

from __future__ import annotations

import random
import time
from typing import cast

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from agent.webhooks.delivery import Attempt
from agent.webhooks.messages import DeliveryRecord, Message
from agent.webhooks.settings import WebhookSettings
from streams.keys import Keys


def retry_delay_s(attempts: int, settings: WebhookSettings, rng: random.Random) -> float:
    """Exponential from ``backoff_initial_s``, capped, then 50-100% of it (jitter)."""
    base = min(settings.backoff_cap_s, settings.backoff_initial_s * 2 ** min(attempts - 1, 32))
    return float(base * rng.uniform(0.5, 1.0))


def after_failure(
    message: Message, attempt: Attempt, now: float, settings: WebhookSettings, rng: random.Random
) -> Message:
    """The message after a failed try: its next time, or dead once retries ran out."""
    first = message.first_attempt_at or now
    failed = message.model_copy(update={"first_attempt_at": first, "last_error": attempt.error})
    if now - first >= settings.retry_for_s:
        return failed.model_copy(update={"dead_at": now})
    return failed.model_copy(
        update={"next_attempt_at": now + retry_delay_s(message.attempts, settings, rng)}
    )


class WebhookQueue:
    def __init__(self, client: aioredis.Redis, keys: Keys, settings: WebhookSettings) -> None:
        self._client = client
        self._keys = keys
        self._settings = settings

    def push(self, pipe: Pipeline, subscription_id: str, message: Message) -> None:
        pipe.rpush(self._keys.webhook_queue(subscription_id), message.model_dump_json())

    async def head(self, subscription_id: str, count: int) -> list[Message]:
        raw = cast(
            list[bytes],
            await self._client.lrange(self._keys.webhook_queue(subscription_id), 0, count - 1),
        )
        return [Message.model_validate_json(item) for item in raw]

    async def record(self, subscription_id: str, message: Message, attempt: Attempt) -> Message:
        """Applies one try's outcome to the head; returns the message as it now stands."""
        now = time.time()
        tried = message.model_copy(update={"attempts": message.attempts + 1})
        if not attempt.ok:
            tried = after_failure(tried, attempt, now, self._settings, random.Random())
        async with self._client.pipeline(transaction=True) as pipe:
            self._log(pipe, subscription_id, tried, attempt, now)
            queue = self._keys.webhook_queue(subscription_id)
            if attempt.ok or tried.dead_at is not None:
                pipe.lpop(queue)
            else:
                pipe.lset(queue, 0, tried.model_dump_json())
            if tried.dead_at is not None:
                pipe.rpush(self._keys.dead_letters(subscription_id), tried.model_dump_json())
                pipe.hincrby(self._keys.metrics, "webhook_dead_letters", 1)
            await pipe.execute()
        return tried

    def _log(
        self, pipe: Pipeline, subscription_id: str, message: Message, attempt: Attempt, now: float
    ) -> None:
        entry = DeliveryRecord(
            message_id=message.id, event_type=message.event_type, attempt=message.attempts,
            at=now, ok=attempt.ok, status=attempt.status, error=attempt.error,
            duration_ms=round(attempt.duration_ms, 2),
        )  # fmt: skip
        log_key = self._keys.deliveries(subscription_id)
        pipe.lpush(log_key, entry.model_dump_json())
        pipe.ltrim(log_key, 0, self._settings.log_max_len - 1)
        counter = "webhook_deliveries" if attempt.ok else "webhook_failures"
        pipe.hincrby(self._keys.metrics, counter, 1)

    async def log(self, subscription_id: str, limit: int) -> list[DeliveryRecord]:
        raw = cast(
            list[bytes],
            await self._client.lrange(self._keys.deliveries(subscription_id), 0, limit - 1),
        )
        return [DeliveryRecord.model_validate_json(item) for item in raw]

    async def log_attempt(self, subscription_id: str, message: Message, attempt: Attempt) -> None:
        """Logs a try made outside the queue (a test delivery)."""
        async with self._client.pipeline(transaction=True) as pipe:
            self._log(pipe, subscription_id, message, attempt, time.time())
            await pipe.execute()

    async def dead_letters(self, subscription_id: str) -> list[Message]:
        raw = cast(
            list[bytes], await self._client.lrange(self._keys.dead_letters(subscription_id), 0, -1)
        )
        return [Message.model_validate_json(item) for item in raw]

    async def redeliver(self, subscription_id: str) -> int:
        """Moves every dead letter back to the end of the queue with a fresh retry budget."""
        dead_key = self._keys.dead_letters(subscription_id)
        async with self._client.pipeline(transaction=True) as pipe:
            while True:
                try:
                    return await self._requeue(pipe, subscription_id, dead_key)
                except aioredis.WatchError:
                    continue

    async def _requeue(self, pipe: Pipeline, subscription_id: str, dead_key: str) -> int:
        await pipe.watch(dead_key)
        raw = cast(list[bytes], await pipe.lrange(dead_key, 0, -1))
        pipe.multi()  # type: ignore[no-untyped-call]
        for item in raw:
            message = Message.model_validate_json(item)
            fresh = message.model_copy(
                update={
                    "attempts": 0,
                    "first_attempt_at": None,
                    "next_attempt_at": 0.0,
                    "dead_at": None,
                }
            )
            self.push(pipe, subscription_id, fresh)
        pipe.delete(dead_key)
        await pipe.execute()
        return len(raw)
