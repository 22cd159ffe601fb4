"""The webhook dispatcher: the outbox fan-out plus one delivery loop per subscription.

Each subscription is delivered by its own task, one message at a time, oldest first: a
slow or dead receiver holds up only its own queue. A loop runs only while its dispatcher
holds the subscription's lease, so several dispatchers can run side by side; a delivery
loop that died of an unexpected error is logged and started again at the next refresh,
and the refresh loop dying ends the dispatcher (its supervisor restarts it). Successes
are written back in runs (see ``queue``): at most ``HEAD_BATCH`` or ``FLUSH_S`` old.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
import uuid

import aiohttp
import redis.asyncio as aioredis

from agent.pipeline.progress import Progress, no_progress
from agent.webhooks.delivery import Attempt, deliver, http_client
from agent.webhooks.fanout import Fanout, ensure_group
from agent.webhooks.messages import Message
from agent.webhooks.queue import WebhookQueue
from agent.webhooks.settings import WebhookSettings
from agent.webhooks.subscriptions import Subscription, SubscriptionStore
from streams.bus.backoff import sleep_unless
from streams.bus.keys import Keys
from streams.bus.lease import Lease

log = logging.getLogger(__name__)
HEAD_BATCH = 64
REFRESH_S = 1.0
OUTBOX_LOOP = "outbox"
SUBSCRIPTIONS_LOOP = "subscriptions"
FLUSH_S = 1.0
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

    async def run(self, stop: asyncio.Event, progress: Progress = no_progress) -> None:
        progress(OUTBOX_LOOP)
        progress(SUBSCRIPTIONS_LOOP)
        await ensure_group(self._client, self._keys)
        log.info("webhook dispatcher %s started", self._name)
        async with http_client(self._settings) as http:
            supervisor = asyncio.create_task(self._supervise(http, stop, progress))
            try:
                await self._fan_out(stop, progress, supervisor)
            finally:
                await _finish(supervisor, STOP_GRACE_S)
                await self._stop_loops(set(self._loops), STOP_GRACE_S)

    async def _fan_out(
        self, stop: asyncio.Event, progress: Progress, supervisor: asyncio.Task[None]
    ) -> None:
        while not stop.is_set():
            progress(OUTBOX_LOOP)
            if supervisor.done():
                supervisor.result()  # raises what ended it
            try:
                await self._fanout.step()
            except (aioredis.ConnectionError, aioredis.TimeoutError) as error:
                log.warning("outbox read failed (%s); retrying", error)
                await sleep_unless(stop, 1.0)

    async def _supervise(
        self, http: aiohttp.ClientSession, stop: asyncio.Event, progress: Progress
    ) -> None:
        while not stop.is_set():
            progress(SUBSCRIPTIONS_LOOP)
            try:
                await self._refresh(http, stop)
            except (aioredis.ConnectionError, aioredis.TimeoutError) as error:
                log.warning("reading webhook subscriptions failed (%s)", error)
            await sleep_unless(stop, REFRESH_S)

    async def _refresh(self, http: aiohttp.ClientSession, stop: asyncio.Event) -> None:
        current = {sub.id: sub for sub in await SubscriptionStore(self._client, self._keys).all()}
        self._subscriptions = current
        self._forget_dead_loops()
        wanted = {sub_id for sub_id, sub in current.items() if sub.enabled}
        await self._stop_loops(set(self._loops) - wanted, 0.0)
        for sub_id in wanted - set(self._loops):
            self._wakeups[sub_id] = asyncio.Event()
            self._loops[sub_id] = asyncio.create_task(self._deliver_loop(sub_id, http, stop))

    async def _stop_loops(self, sub_ids: set[str], grace_s: float) -> None:
        for sub_id in sub_ids:
            await _finish(self._loops.pop(sub_id), grace_s)
            self._wakeups.pop(sub_id, None)

    def _forget_dead_loops(self) -> None:
        """Drops the delivery loops that ended while still wanted, so they start again."""
        for sub_id, task in list(self._loops.items()):
            if task.done():
                del self._loops[sub_id]
                if not task.cancelled() and task.exception() is not None:
                    log.error("webhook %s: delivery loop died", sub_id, exc_info=task.exception())

    def _wake(self, sub_ids: set[str]) -> None:
        for sub_id in sub_ids:
            wakeup = self._wakeups.get(sub_id)
            if wakeup is not None:
                wakeup.set()

    async def _deliver_loop(
        self, sub_id: str, http: aiohttp.ClientSession, stop: asyncio.Event
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
        self, sub_id: str, http: aiohttp.ClientSession, lease: Lease, stop: asyncio.Event
    ) -> float:
        """Delivers from the head of the queue; returns how long to wait before looking again."""
        if not await lease.hold():
            return self._settings.poll_s
        head = await self._queue.head(sub_id, HEAD_BATCH)
        delivered: list[tuple[Message, Attempt]] = []
        wait_s = await self._deliver_head(sub_id, head, http, stop, delivered)
        await self._queue.record_delivered(sub_id, delivered)
        return wait_s

    async def _deliver_head(
        self,
        sub_id: str,
        head: list[Message],
        http: aiohttp.ClientSession,
        stop: asyncio.Event,
        delivered: list[tuple[Message, Attempt]],
    ) -> float:
        """Tries the messages in order, collecting the successes not yet written back."""
        written_at = time.monotonic()
        for message in head:
            wait_s = message.next_attempt_at - time.time()
            if wait_s > 0:
                return min(wait_s, self._settings.poll_s)
            if stop.is_set():
                return 0.0
            attempt = await self._try(sub_id, message, http)
            if attempt is None or not attempt.ok:
                await self._queue.record_delivered(sub_id, delivered)
                delivered.clear()
                await self._record_failure(sub_id, message, attempt)
                return min(self._settings.poll_s, 0.05)
            delivered.append((message, attempt))
            if time.monotonic() - written_at > FLUSH_S:
                await self._queue.record_delivered(sub_id, delivered)
                delivered.clear()
                written_at = time.monotonic()
        return 0.0 if len(head) == HEAD_BATCH else self._settings.poll_s

    async def _try(
        self, sub_id: str, message: Message, http: aiohttp.ClientSession
    ) -> Attempt | None:
        subscription = self._subscriptions.get(sub_id)
        if subscription is None:
            return None
        return await deliver(
            http, self._settings, subscription.url, subscription.secret, message.id,
            message.body.encode(),
        )  # fmt: skip

    async def _record_failure(self, sub_id: str, message: Message, attempt: Attempt | None) -> None:
        if attempt is None:  # the subscription is gone: nothing was tried
            return
        after = await self._queue.record_failure(sub_id, message, attempt)
        retry_s = after.next_attempt_at - time.time()
        state = "dead-lettered" if after.dead_at else f"retry in {retry_s:.1f} s"
        log.info("webhook %s message %s failed (%s); %s", sub_id, message.id, attempt.error, state)


async def _finish(task: asyncio.Task[None], grace_s: float) -> None:
    """Lets the task end on the stop event within a grace period, then cancels it."""
    if grace_s > 0:
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(task), grace_s)
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
