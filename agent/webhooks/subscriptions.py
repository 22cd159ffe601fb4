"""Webhook subscriptions: where to send which alert events, stored in the ``webhooks`` hash."""

from __future__ import annotations

import secrets
import time
from typing import Annotated, cast

import redis.asyncio as aioredis
from pydantic import BaseModel, ConfigDict, Field

from agent.pipeline.alert_state import EventType
from agent.pipeline.rules import RULE_ID_PATTERN, Severity
from streams.bus.keys import Keys
from streams.config import CAMERA_ID_PATTERN

TEST_EVENT = "webhook.test"
WebhookUrl = Annotated[str, Field(min_length=8, max_length=2000, pattern=r"^https?://\S+$")]


class Filters(BaseModel):
    """Empty lists match everything."""

    model_config = ConfigDict(extra="forbid")

    cameras: list[Annotated[str, Field(pattern=CAMERA_ID_PATTERN)]] = Field(default_factory=list)
    rules: list[Annotated[str, Field(pattern=RULE_ID_PATTERN)]] = Field(default_factory=list)
    severities: list[Severity] = Field(default_factory=list)
    event_types: list[EventType] = Field(default_factory=list)


class WebhookIn(Filters):
    url: WebhookUrl
    description: Annotated[str, Field(max_length=500)] = ""
    enabled: bool = True


class WebhookPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: WebhookUrl | None = None
    description: Annotated[str | None, Field(max_length=500)] = None
    enabled: bool | None = None
    cameras: list[Annotated[str, Field(pattern=CAMERA_ID_PATTERN)]] | None = None
    rules: list[Annotated[str, Field(pattern=RULE_ID_PATTERN)]] | None = None
    severities: list[Severity] | None = None
    event_types: list[EventType] | None = None


class WebhookOut(WebhookIn):
    id: str
    created_at: float


class Subscription(WebhookOut):
    secret: str


def matches(subscription: Subscription, event: dict[str, str]) -> bool:
    """Whether an outbox event (type, camera, rule, severity) goes to this subscription.
    A report (its cameras comma-separated) goes where the types allow it, one of its
    cameras is allowed, and no rule or severity is asked for (a report is about all)."""
    if event.get("type", "").startswith("report."):
        return _matches_report(subscription, event)
    return subscription.enabled and all(
        not allowed or event.get(name, "") in allowed
        for name, allowed in (
            ("type", subscription.event_types),
            ("camera", subscription.cameras),
            ("rule", subscription.rules),
            ("severity", subscription.severities),
        )
    )


def _matches_report(subscription: Subscription, event: dict[str, str]) -> bool:
    cameras = set(event.get("camera", "").split(","))
    return (
        subscription.enabled
        and (not subscription.event_types or event["type"] in subscription.event_types)
        and (not subscription.cameras or bool(cameras & set(subscription.cameras)))
        and not subscription.rules
        and not subscription.severities
    )


def new_subscription(spec: WebhookIn, secret: str) -> Subscription:
    return Subscription(
        **spec.model_dump(), id=f"wh_{secrets.token_hex(8)}", created_at=time.time(), secret=secret
    )


class SubscriptionStore:
    def __init__(self, client: aioredis.Redis, keys: Keys) -> None:
        self._client = client
        self._keys = keys

    async def all(self) -> list[Subscription]:
        raw = cast(dict[bytes, bytes], await self._client.hgetall(self._keys.webhooks))
        subscriptions = [Subscription.model_validate_json(doc) for doc in raw.values()]
        return sorted(subscriptions, key=lambda sub: sub.created_at)

    async def get(self, subscription_id: str) -> Subscription | None:
        document = await self._client.hget(self._keys.webhooks, subscription_id)
        return None if document is None else Subscription.model_validate_json(document)

    async def put(self, subscription: Subscription) -> None:
        await self._client.hset(
            self._keys.webhooks, subscription.id, subscription.model_dump_json()
        )

    async def delete(self, subscription_id: str) -> bool:
        """Removes the subscription with its queue, log and dead letters."""
        keys = self._keys
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.hdel(keys.webhooks, subscription_id)
            pipe.delete(
                keys.webhook_queue(subscription_id),
                keys.deliveries(subscription_id),
                keys.dead_letters(subscription_id),
            )
            removed, _ = await pipe.execute()
        return bool(removed)
