"""/v1/webhooks: subscriptions (secret shown once), test delivery, log, dead letters."""

from __future__ import annotations

import time
import uuid
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response
from pydantic import BaseModel

from agent.api.deps import AdminKey, State
from agent.api.errors import responses
from agent.webhooks.delivery import deliver, http_client
from agent.webhooks.messages import DeliveryRecord, Message
from agent.webhooks.queue import WebhookQueue
from agent.webhooks.signing import new_secret
from agent.webhooks.ssrf import TargetRefusedError, resolve_target
from agent.webhooks.subscriptions import (
    TEST_EVENT,
    Subscription,
    SubscriptionStore,
    WebhookIn,
    WebhookOut,
    WebhookPatch,
    new_subscription,
)

router = APIRouter(
    prefix="/v1/webhooks", tags=["webhooks"], responses=responses(401, 403, 404, 422)
)
WebhookId = Annotated[str, Path(pattern=r"^wh_[0-9a-f]{16}$")]


class WebhookCreated(WebhookOut):
    secret: str


class TestResult(BaseModel):
    ok: bool
    status: int | None
    error: str | None
    duration_ms: float


class Redelivered(BaseModel):
    requeued: int


def _out(subscription: Subscription) -> WebhookOut:
    return WebhookOut(**subscription.model_dump(exclude={"secret"}))


async def _checked_url(state: State, url: str) -> None:
    try:
        await resolve_target(url, state.webhooks)
    except TargetRefusedError as error:
        raise HTTPException(422, f"webhook URL refused: {error}") from None


async def _subscription(state: State, webhook_id: str) -> Subscription:
    subscription = await SubscriptionStore(state.client, state.keys).get(webhook_id)
    if subscription is None:
        raise HTTPException(404, f"no webhook {webhook_id}")
    return subscription


def _queue(state: State) -> WebhookQueue:
    return WebhookQueue(state.client, state.keys, state.webhooks)


@router.post("", status_code=201)
async def create_webhook(state: State, _: AdminKey, spec: WebhookIn) -> WebhookCreated:
    """The secret (``whsec_…``) is in this answer only: store it to verify signatures."""
    await _checked_url(state, spec.url)
    subscription = new_subscription(spec, new_secret())
    await SubscriptionStore(state.client, state.keys).put(subscription)
    return WebhookCreated(**subscription.model_dump())


@router.get("")
async def list_webhooks(state: State, _: AdminKey) -> list[WebhookOut]:
    return [_out(sub) for sub in await SubscriptionStore(state.client, state.keys).all()]


@router.get("/{webhook_id}")
async def get_webhook(state: State, _: AdminKey, webhook_id: WebhookId) -> WebhookOut:
    return _out(await _subscription(state, webhook_id))


@router.patch("/{webhook_id}")
async def update_webhook(
    state: State, _: AdminKey, webhook_id: WebhookId, patch: WebhookPatch
) -> WebhookOut:
    subscription = await _subscription(state, webhook_id)
    changes = patch.model_dump(exclude_unset=True, exclude_none=True)
    if "url" in changes:
        await _checked_url(state, changes["url"])
    updated = Subscription.model_validate({**subscription.model_dump(), **changes})
    await SubscriptionStore(state.client, state.keys).put(updated)
    return _out(updated)


@router.delete("/{webhook_id}", status_code=204)
async def delete_webhook(state: State, _: AdminKey, webhook_id: WebhookId) -> Response:
    if not await SubscriptionStore(state.client, state.keys).delete(webhook_id):
        raise HTTPException(404, f"no webhook {webhook_id}")
    return Response(status_code=204)


@router.post("/{webhook_id}/test")
async def send_test_delivery(state: State, _: AdminKey, webhook_id: WebhookId) -> TestResult:
    """Sends one signed ``webhook.test`` event now, outside the queue, and says how it went."""
    subscription = await _subscription(state, webhook_id)
    now = time.time()
    body = (
        f'{{"type": "{TEST_EVENT}", "timestamp": {now:.3f}, "data": {{"webhook": "{webhook_id}"}}}}'
    )
    message = Message(
        id=f"msg_test_{uuid.uuid4().hex}", event_type=TEST_EVENT, body=body, queued_at=now
    )
    settings = state.webhooks
    async with http_client(settings, connections=1) as http:
        attempt = await deliver(
            http, settings, subscription.url, subscription.secret, message.id, body.encode()
        )
    await _queue(state).log_attempt(webhook_id, message.model_copy(update={"attempts": 1}), attempt)
    return TestResult(
        ok=attempt.ok, status=attempt.status, error=attempt.error, duration_ms=attempt.duration_ms
    )


@router.get("/{webhook_id}/deliveries")
async def deliveries(
    state: State,
    _: AdminKey,
    webhook_id: WebhookId,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[DeliveryRecord]:
    """Delivery attempts, newest first."""
    await _subscription(state, webhook_id)
    return await _queue(state).log(webhook_id, limit)


@router.get("/{webhook_id}/dead-letters")
async def dead_letters(state: State, _: AdminKey, webhook_id: WebhookId) -> list[Message]:
    await _subscription(state, webhook_id)
    return await _queue(state).dead_letters(webhook_id)


@router.post("/{webhook_id}/dead-letters/redeliver")
async def redeliver(state: State, _: AdminKey, webhook_id: WebhookId) -> Redelivered:
    """Puts every dead letter back in the queue with a fresh retry budget."""
    await _subscription(state, webhook_id)
    return Redelivered(requeued=await _queue(state).redeliver(webhook_id))
