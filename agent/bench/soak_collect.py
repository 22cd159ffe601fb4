"""What the soak reads back at the end: the alert events due on every path, the alerts,
the archive's rows, the part restarts the roles counted, where the poison went, and
whether anything is still waiting."""

from __future__ import annotations

import asyncio
import contextlib
import re
from pathlib import Path
from typing import cast

import httpx
import redis

from agent.archive.alert_store import TABLE
from agent.archive.settings import ArchiveSettings
from agent.archive.tables import connect
from agent.bench.soak_inject import POISON_FIELD
from agent.bench.soak_report import AlertSpan, OutboxEvent
from agent.eval.run import alert_times
from agent.pipeline.alert_state import EventType
from streams.bus.keys import ARCHIVE_GROUP, DISPATCH_GROUP, MQTT_GROUP, WORKERS_GROUP, Keys

Entries = list[tuple[bytes, dict[bytes, bytes]]]
EVENT_TYPES = frozenset(event.value for event in EventType)
RESTARTS = re.compile(r"^vigil_part_restarts_total(\{[^}]*\})?\s+([0-9.e+]+)", re.MULTILINE)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def outbox_events(client: redis.Redis, keys: Keys) -> list[OutboxEvent]:
    events = []
    for entry_id, fields in cast(Entries, client.xrange(keys.outbox)):
        kind, alert_id = fields.get(b"type", b"").decode(errors="replace"), fields.get(b"alert_id")
        if POISON_FIELD.encode() in fields or kind not in EVENT_TYPES or not alert_id:
            continue
        events.append(OutboxEvent(entry_id.decode(), alert_id.decode(), kind))
    return events


def alert_spans(client: redis.Redis, keys: Keys) -> tuple[list[AlertSpan], list[str]]:
    """Every alert opened (from the ``alerts`` stream) and the ids of those closed."""
    opened = EventType.OPENED.value.encode()
    ids = [
        fields[b"alert_id"].decode()
        for _, fields in cast(Entries, client.xrange(keys.alerts))
        if fields.get(b"type") == opened and b"alert_id" in fields
    ]
    spans, closed = [], []
    for alert_id in dict.fromkeys(ids):
        raw = cast(dict[bytes, bytes], client.hgetall(keys.alert(alert_id)))
        fields = {name.decode(): value.decode() for name, value in raw.items()}
        if not fields.get("camera"):
            continue
        onset, _ = alert_times(fields)
        closed_at = float(fields["closed_at"]) if fields.get("closed_at") else None
        spans.append(AlertSpan(alert_id, fields["camera"], fields["rule"], onset, closed_at))
        if fields.get("state") == "closed":
            closed.append(alert_id)
    return spans, closed


def archived_alert_ids(archive: dict[str, object], data_dir: Path) -> list[str] | None:
    """One id per row of the archive's alerts table; None when it cannot be read."""
    settings = ArchiveSettings.model_validate(archive)
    try:
        return asyncio.run(_archived(settings, data_dir))
    except (OSError, RuntimeError, ValueError):
        return None


async def _archived(settings: ArchiveSettings, data_dir: Path) -> list[str]:
    db = await connect(settings, data_dir)
    table = await db.open_table(TABLE)
    rows = await table.query().select(["alert_id"]).to_list()
    return [str(row["alert_id"]) for row in rows]


def part_restarts(api_url: str, token: str, client: redis.Redis, keys: Keys) -> dict[str, object]:
    """``vigil_part_restarts_total`` from the API's /metrics, and any restart counter in
    the metrics hash; None where neither exists."""
    from_api: float | None = None
    with contextlib.suppress(httpx.HTTPError):
        text = httpx.get(f"{api_url}/metrics", headers={"Authorization": f"Bearer {token}"},
                         timeout=10.0).text  # fmt: skip
        found = RESTARTS.findall(text)
        from_api = sum(float(value) for _, value in found) if found else None
    counters = cast(dict[bytes, bytes], client.hgetall(keys.metrics))
    in_hash = {name.decode(): int(value) for name, value in counters.items() if b"restart" in name}
    total = from_api if from_api is not None else (sum(in_hash.values()) if in_hash else None)
    return {"total": total, "from_api_metrics": from_api, "counters": in_hash}


def poison_left(client: redis.Redis, poisoned: dict[str, list[str]]) -> dict[str, object]:
    """Per poisoned stream: its consumer groups that still hold a poison entry pending."""
    stuck: dict[str, list[str]] = {}
    for stream, ids in poisoned.items():
        groups = cast(list[dict[str, object]], client.xinfo_groups(stream))
        for group in groups:
            name = _text(group["name"])
            pending = client.xpending_range(stream, name, min="-", max="+", count=1000)
            held = {_text(item["message_id"]) for item in pending}
            if held & set(ids):
                stuck.setdefault(stream, []).append(name)
    return {"injected": {stream: len(ids) for stream, ids in poisoned.items()}, "stuck": stuck}


def dead_letter_streams(client: redis.Redis, keys: Keys) -> dict[str, int]:
    """Entries in each consumer group's dead-letter stream and each webhook
    subscription's dead-letter list."""
    streams = [keys.dead_jobs, keys.dead_dispatch, keys.dead_mqtt, keys.dead_archive]
    found = {stream: int(client.xlen(stream)) for stream in streams}
    for subscription in cast(list[bytes], client.hkeys(keys.webhooks)):
        dead = keys.dead_letters(subscription.decode())
        found[dead] = int(client.llen(dead))
    return found


def open_alerts(client: redis.Redis, keys: Keys) -> int:
    """Alerts open on any camera."""
    cameras = [camera.decode() for camera in cast(list[bytes], client.hkeys(keys.cameras))]
    return sum(int(client.scard(keys.open_alerts(camera))) for camera in cameras)


def backlog(client: redis.Redis, keys: Keys) -> int:
    """What is not done yet: jobs, outbox and archive entries unread or unacknowledged,
    webhook messages queued, closed alerts not yet archived."""
    waiting = 0
    for stream, name in groups(keys):
        waiting += _group_backlog(client, stream, name)
    for subscription in cast(list[bytes], client.hkeys(keys.webhooks)):
        waiting += int(client.llen(keys.webhook_queue(subscription.decode())))
    return waiting + int(client.zcard(keys.alerts_to_archive))


def groups(keys: Keys) -> list[tuple[str, str]]:
    """Every consumer group's (stream, group)."""
    return [(keys.jobs, WORKERS_GROUP), (keys.outbox, DISPATCH_GROUP),
            (keys.outbox, MQTT_GROUP), (keys.archive, ARCHIVE_GROUP)]  # fmt: skip


def _group_backlog(client: redis.Redis, stream: str, name: str) -> int:
    group = group_info(client, stream, name)
    if group is None:
        return 0
    lag = group.get("lag")
    return int(cast(int, group["pending"])) + (1 if lag is None else int(cast(int, lag)))


def group_info(client: redis.Redis, stream: str, name: str) -> dict[str, object] | None:
    try:
        groups = cast(list[dict[str, object]], client.xinfo_groups(stream))
    except redis.ResponseError:
        return None
    return next((group for group in groups if _text(group["name"]) == name), None)
