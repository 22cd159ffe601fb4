"""The webhook dispatcher: the outbox fan-out plus one delivery loop per subscription.

Each subscription is delivered by its own task, one message at a time, oldest first: a
slow or dead receiver holds up only its own queue. A loop runs only while its dispatcher
holds the subscription's lease, so several dispatchers can run side by side.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
import uuid

import httpx
import redis.asyncio as aioredis

from agent.webhooks.delivery import deliver, http_client
from agent.webhooks.fanout import Fanout, ensure_group
from agent.webhooks.lease import Lease
from agent.webhooks.messages import Message
from agent.webhooks.queue import WebhookQueue
from agent.webhooks.settings import WebhookSettings
from agent.webhooks.subscriptions import Subscription, SubscriptionStore
from streams.keys import Keys

log = logging.getLogger(__name__)
HEAD_BATCH = 64
REFRESH_S = 1.0
STOP_GRACE_S = 5.0


class Dispatcher:
    def __init__(
        self,
        client: aioredis.Redis,
        keys: Keys,
        settings: WebhookSettings,
        base_url: str,
        name: str | None = None,
    ) -> None:
        self._client = client
        self._keys = keys
        self._settings = settings
        self._name = name or f"{socket.gethostname()}-{uuid.uuid4().hex[:6]}"
        self._queue = WebhookQueue(client, keys, settings)
        self._fanout = Fanout(client, keys, self._queue, self._name, base_url, self._wake)
        self._subscriptions: dict[str, Subscription] = {}
        self._wakeups: dict[str, asyncio.Event] = {}
        self._loops: dict[str, asyncio.Task[None]] = {}

    async def run(self, stop: asyncio.Event) -> None:
        await ensure_group(self._client, self._keys)
        log.info("webhook dispatcher %s started", self._name)
        async with http_client(self._settings) as http:
            supervisor = asyncio.create_task(self._supervise(http, stop))
            try:
                await self._fan_out(stop)
            finally:
                await _finish(supervisor, STOP_GRACE_S)
                await self._stop_loops(set(self._loops), STOP_GRACE_S)

    async def _fan_out(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self._fanout.step()
            except (aioredis.ConnectionError, aioredis.TimeoutError) as error:
                log.warning("outbox read failed (%s); retrying", error)
                await _sleep_unless(stop, 1.0)

    async def _supervise(self, http: httpx.AsyncClient, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self._refresh(http, stop)
            except (aioredis.ConnectionError, aioredis.TimeoutError) as error:
                log.warning("reading webhook subscriptions failed (%s)", error)
            await _sleep_unless(stop, REFRESH_S)

    async def _refresh(self, http: httpx.AsyncClient, stop: asyncio.Event) -> None:
        current = {sub.id: sub for sub in await SubscriptionStore(self._client, self._keys).all()}
        self._subscriptions = current
        wanted = {sub_id for sub_id, sub in current.items() if sub.enabled}
        await self._stop_loops(set(self._loops) - wanted, 0.0)
        for sub_id in wanted - set(self._loops):
            self._wakeups[sub_id] = asyncio.Event()
            self._loops[sub_id] = asyncio.create_task(self._deliver_loop(sub_id, http, stop))

    async def _stop_loops(self, sub_ids: set[str], grace_s: float) -> None:
        for sub_id in sub_ids:
            await _finish(self._loops.pop(sub_id), grace_s)
            self._wakeups.pop(sub_id, None)

    def _wake(self, sub_ids: set[str]) -> None:
        for sub_id in sub_ids:
            wakeup = self._wakeups.get(sub_id)
            if wakeup is not None:
                wakeup.set()

    async def _deliver_loop(
        self, sub_id: str, http: httpx.AsyncClient, stop: asyncio.Event
    ) -> None:
        lease = Lease(
            self._client, self._keys.webhook_lease(sub_id), self._name, self._settings.lease_s
        )
        wakeup = self._wakeups[sub_id]
        try:
            while not stop.is_set():
                wakeup.clear()
                wait_s = await self._deliver_some(sub_id, http, lease, stop)
                if wait_s > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(wakeup.wait(), wait_s)
        except (aioredis.ConnectionError, aioredis.TimeoutError) as error:
            log.warning("webhook %s: Redis unavailable (%s); the loop restarts", sub_id, error)
        finally:
            with contextlib.suppress(aioredis.RedisError, OSError):
                await lease.release()

    async def _deliver_some(
        self, sub_id: str, http: httpx.AsyncClient, lease: Lease, stop: asyncio.Event
    ) -> float:
        """Delivers from the head of the queue; returns how long to wait before looking again."""
        if not await lease.hold():
            return self._settings.poll_s
        for message in await self._queue.head(sub_id, HEAD_BATCH):
            wait_s = message.next_attempt_at - time.time()
            if wait_s > 0:
                return min(wait_s, self._settings.poll_s)
            if stop.is_set() or not await self._try(sub_id, message, http):
                return 0.0 if stop.is_set() else min(self._settings.poll_s, 0.05)
        return self._settings.poll_s

    async def _try(self, sub_id: str, message: Message, http: httpx.AsyncClient) -> bool:
        subscription = self._subscriptions.get(sub_id)
        if subscription is None:
            return False
        attempt = await deliver(
            http,
            self._settings,
            subscription.url,
            subscription.secret,
            message.id,
            message.body.encode(),
        )
        after = await self._queue.record(sub_id, message, attempt)
        if not attempt.ok:
            state = (
                "dead-lettered"
                if after.dead_at
                else f"retry in {after.next_attempt_at - time.time():.1f} s"
            )
            log.info(
                "webhook %s message %s failed (%s); %s", sub_id, message.id, attempt.error, state
            )
        return attempt.ok


async def _finish(task: asyncio.Task[None], grace_s: float) -> None:
    """Lets the task end on the stop event within a grace period, then cancels it."""
    if grace_s > 0:
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(task), grace_s)
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
