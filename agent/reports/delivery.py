"""Delivering a report: one ``report.ready`` event on the outbox, which the webhook
dispatcher and the MQTT publisher read like alert events; written with the report's
"done" mark in one transaction, so each scheduled report is delivered once."""

from __future__ import annotations

import json
import time
from typing import Any

import redis.asyncio as aioredis

from agent.pipeline.alert_book import EVENT_STREAM_MAX_LEN
from agent.pipeline.alert_state import EventType
from agent.reports.models import Report
from streams.bus.keys import Keys


def ready_payload(report: Report) -> dict[str, Any]:
    """What subscribers get: the report in brief, with where to read it whole."""
    return {
        "type": EventType.REPORT_READY.value,
        "report_id": report.id,
        "schedule": report.schedule,
        "cameras": report.cameras,
        "since": report.since,
        "until": report.until,
        "notable": report.notable,
        "summary": report.summary,
        "alerts": sum(count.alerts for count in report.counts),
        "counts": [count.model_dump() for count in report.counts],
    }


async def deliver(client: aioredis.Redis, keys: Keys, report: Report, once: bool) -> bool:
    """Queues the report's event; with ``once``, only if no event of its id was queued
    before (False then)."""
    event = {
        "type": EventType.REPORT_READY.value,
        "report_id": report.id,
        "camera": ",".join(report.cameras),
        "payload": json.dumps(ready_payload(report)),
    }
    async with client.pipeline(transaction=True) as pipe:
        if once:
            await pipe.watch(keys.reports_done)
            if await pipe.hexists(keys.reports_done, report.id):
                await pipe.unwatch()  # type: ignore[no-untyped-call]
                return False
        pipe.multi()  # type: ignore[no-untyped-call]
        if once:
            pipe.hset(keys.reports_done, report.id, f"{time.time():.3f}")
        pipe.xadd(keys.outbox, event, maxlen=EVENT_STREAM_MAX_LEN, approximate=True)  # type: ignore[arg-type]
        await pipe.execute()
    return True
