"""A subscription's queue in Redis: messages in order, the head tried until it succeeds or dies.

Only the dispatcher holding the subscription's lease pops or rewrites the head, so the
queue is delivered in order. Outcomes are written with their log entries and counters in
one transaction: a run of successes together (popped only after they were delivered, so
a crash before the write re-delivers them, never loses them), a failure on its own.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Sequence
from typing import cast

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from agent.webhooks.delivery import Attempt
from agent.webhooks.messages import DeliveryRecord, Message
from agent.webhooks.settings import WebhookSettings
from streams.bus.keys import Keys


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

    def push(self, pipe: Pipeline, subscription_ids: Iterable[str], message: Message) -> None:
        """Queues the message for each subscription (serialised once for all of them)."""
        document = message.model_dump_json()
        for subscription_id in subscription_ids:
            pipe.rpush(self._keys.webhook_queue(subscription_id), document)

    async def head(self, subscription_id: str, count: int) -> list[Message]:
        raw = cast(
            list[bytes],
            await self._client.lrange(self._keys.webhook_queue(subscription_id), 0, count - 1),
        )
        return [Message.model_validate_json(item) for item in raw]

    async def record_delivered(
        self, subscription_id: str, delivered: Sequence[tuple[Message, Attempt]]
    ) -> None:
        """Pops a run of delivered messages off the head, logging each, in one transaction."""
        if not delivered:
            return
        now = time.time()
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.lpop(self._keys.webhook_queue(subscription_id), len(delivered))
            self._log(pipe, subscription_id, delivered, now)
            await pipe.execute()

    async def record_failure(
        self, subscription_id: str, message: Message, attempt: Attempt
    ) -> Message:
        """Applies a failed try to the head; returns the message as it now stands."""
        now = time.time()
        tried = message.model_copy(update={"attempts": message.attempts + 1})
        tried = after_failure(tried, attempt, now, self._settings, random.Random())
        async with self._client.pipeline(transaction=True) as pipe:
            self._log(pipe, subscription_id, [(tried, attempt)], now, counted=True)
            queue = self._keys.webhook_queue(subscription_id)
            if tried.dead_at is None:
                pipe.lset(queue, 0, tried.model_dump_json())
            else:
                pipe.lpop(queue)
                pipe.rpush(self._keys.dead_letters(subscription_id), tried.model_dump_json())
                pipe.hincrby(self._keys.metrics, "webhook_dead_letters", 1)
            await pipe.execute()
        return tried

    def _log(
        self,
        pipe: Pipeline,
        subscription_id: str,
        tries: Sequence[tuple[Message, Attempt]],
        now: float,
        counted: bool = False,
    ) -> None:
        """Log entries for tries, newest first; ``counted``: the messages' attempts include them."""
        entries = [_record(message, attempt, now, counted) for message, attempt in tries]
        log_key = self._keys.deliveries(subscription_id)
        pipe.lpush(log_key, *entries)
        pipe.ltrim(log_key, 0, self._settings.log_max_len - 1)
        succeeded = sum(attempt.ok for _, attempt in tries)
        if succeeded:
            pipe.hincrby(self._keys.metrics, "webhook_deliveries", succeeded)
        if len(tries) > succeeded:
            pipe.hincrby(self._keys.metrics, "webhook_failures", len(tries) - succeeded)

    async def log(self, subscription_id: str, limit: int) -> list[DeliveryRecord]:
        raw = cast(
            list[bytes],
            await self._client.lrange(self._keys.deliveries(subscription_id), 0, limit - 1),
        )
        return [DeliveryRecord.model_validate_json(item) for item in raw]

    async def log_attempt(self, subscription_id: str, message: Message, attempt: Attempt) -> None:
        """Logs a try made outside the queue (a test delivery)."""
        async with self._client.pipeline(transaction=True) as pipe:
            self._log(pipe, subscription_id, [(message, attempt)], time.time(), counted=True)
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
            self.push(pipe, [subscription_id], fresh)
        pipe.delete(dead_key)
        await pipe.execute()
        return len(raw)


def _record(message: Message, attempt: Attempt, now: float, counted: bool) -> str:
    return DeliveryRecord(
        message_id=message.id, event_type=message.event_type,
        attempt=message.attempts if counted else message.attempts + 1,
        at=now, ok=attempt.ok, status=attempt.status, error=attempt.error,
        duration_ms=round(attempt.duration_ms, 2),
    ).model_dump_json()  # fmt: skip
