"""``vigil bench mqtt``: alert events through the MQTT publisher to a QoS 1 subscriber,
beside the webhooks bench at the same rate.

A private Redis and a private Mosquitto on loopback. Alert events are written by the real
alert book at a fixed rate (``alert_load``), spread over the seeded cameras; the real
``MqttPublisher`` relays them from the outbox in this process; a subscriber in a separate
process (so it does not share the publisher's CPU) receives ``<prefix>/alerts`` at QoS 1.
Latency runs from the event's XADD on ``outbox`` to its arrival at the subscriber;
``lost`` counts events never received. Then ``vigil bench webhooks`` runs at the same
rate and duration, and both sets of figures are printed side by side.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiomqtt
import redis
import redis.asyncio as aioredis
import typer

from agent.bench import webhooks
from agent.bench.alert_load import OutboxEvent, outbox_events, seed, write_events
from agent.bench.delivery import answer_counts, drain, free_port, percentile
from agent.mqtt import topics
from agent.mqtt.publisher import MqttPublisher
from agent.mqtt.settings import MqttSettings
from agent.runtime.embedded_mosquitto import EmbeddedMosquitto
from agent.runtime.embedded_redis import EmbeddedRedis
from streams.bus.keys import MQTT_GROUP, Keys

KEYS = Keys("bench:")
PREFIX = "bench"
CONSUMER = "bench"
BASE_URL = "http://bench"
READY_TIMEOUT_S = 30.0
Receipt = tuple[str, str, float]  # (alert id, event type as published, arrival epoch s)
EventKey = tuple[str, str]  # (alert id, event type as published)


@dataclass(frozen=True, slots=True)
class BenchConfig:
    rate: float = 200.0
    seconds: float = 20.0
    cameras: int = 50
    webhook_receivers: int = 10  # the webhooks bench's receivers; 0 skips it
    drain_s: float = 30.0


def main(config: BenchConfig, as_json: bool) -> None:
    result: dict[str, Any] = {"rate": config.rate, "duration_s": config.seconds}
    result["mqtt"] = measure(config)
    if config.webhook_receivers:
        result["webhooks"] = webhooks.measure(
            webhooks.BenchConfig(config.webhook_receivers, config.rate, config.seconds)
        )
    if as_json:
        typer.echo(json.dumps(result))
        return
    for section in ("mqtt", "webhooks"):
        for name, value in result.get(section, {}).items():
            typer.echo(f"{section:>8} {name:>16}: {value}")


def measure(config: BenchConfig) -> dict[str, float | int]:
    """One run on a private Redis and a private Mosquitto."""
    with tempfile.TemporaryDirectory(prefix="vigil-bench-mqtt-") as folder:
        broker = EmbeddedMosquitto(Path(folder) / "mosquitto", free_port())
        with EmbeddedRedis(Path(folder) / "redis", append_only=False) as redis_server:
            broker.start()
            try:
                return asyncio.run(_bench(config, redis_server.url, broker.port))
            finally:
                broker.stop()


async def _bench(config: BenchConfig, redis_url: str, port: int) -> dict[str, float | int]:
    parent, subscriber = _start_subscriber(port)
    client = aioredis.from_url(redis_url)
    stop = asyncio.Event()
    settings = MqttSettings(url=f"mqtt://127.0.0.1:{port}", prefix=PREFIX, client_id=CONSUMER)
    publisher = MqttPublisher(client, KEYS, settings, CONSUMER, BASE_URL)
    running = asyncio.create_task(publisher.run(stop))
    try:
        await seed(client, KEYS, config.cameras)
        await _relay_started(client, running)
        count = int(config.rate * config.seconds)
        started = await write_events(client, KEYS, config.rate, count, config.cameras)
        offered = await outbox_events(client, KEYS)
        await drain(parent, len(offered), config.drain_s)
        parent.send("report")
        receipts: list[Receipt] = parent.recv()
    finally:
        stop.set()
        await asyncio.wait_for(running, READY_TIMEOUT_S)
        subscriber.join(10)
        subscriber.kill()
        await client.aclose()
    return _report(offered, receipts, started)


def _start_subscriber(port: int) -> tuple[Connection, multiprocessing.process.BaseProcess]:
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=_subscriber_main, args=(port, child), daemon=True)
    process.start()
    if not parent.poll(READY_TIMEOUT_S):
        raise RuntimeError("the bench's MQTT subscriber did not subscribe")
    parent.recv()  # subscribed
    return parent, process


async def _relay_started(client: aioredis.Redis, running: asyncio.Task[None]) -> None:
    """Waits until the publisher has announced itself and reads the outbox as ``CONSUMER``."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline and not running.done():
        with contextlib.suppress(redis.ResponseError):  # no outbox or group yet
            consumers = await client.xinfo_consumers(KEYS.outbox, MQTT_GROUP)
            if any(consumer["name"] in (CONSUMER, CONSUMER.encode()) for consumer in consumers):
                return
        await asyncio.sleep(0.05)
    raise RuntimeError("the MQTT publisher did not start relaying the outbox")


def _report(
    offered: list[OutboxEvent], receipts: list[Receipt], started: float
) -> dict[str, float | int]:
    sent = {(event.alert_id, topics.EVENT_TYPES[event.type]): event.added_s for event in offered}
    copies = Counter((alert_id, kind) for alert_id, kind, _ in receipts)
    first: dict[EventKey, float] = {}
    for alert_id, kind, arrived in receipts:
        first.setdefault((alert_id, kind), arrived)
    latencies = sorted(
        (arrived - sent[key]) * 1000 for key, arrived in first.items() if key in sent
    )
    elapsed = max(first.values()) - started if first else 1.0
    return {
        "events": len(sent),
        "received": len(latencies),
        "events_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": percentile(latencies, 0.50),
        "p95_ms": percentile(latencies, 0.95),
        "p99_ms": percentile(latencies, 0.99),
        "max_ms": percentile(latencies, 1.0),
        "lost": len(sent.keys() - first.keys()),
        "duplicates": sum(copies.values()) - len(copies),
    }


def _subscriber_main(port: int, conn: Connection) -> None:
    asyncio.run(_subscriber(port, conn))


async def _subscriber(port: int, conn: Connection) -> None:
    receipts: list[Receipt] = []
    async with aiomqtt.Client("127.0.0.1", port, identifier=f"{CONSUMER}-subscriber") as mqtt:
        await mqtt.subscribe(topics.alerts(PREFIX), qos=1)
        conn.send("ready")
        receiving = asyncio.create_task(_receive(mqtt, receipts))
        await answer_counts(conn, lambda: len(receipts))
        receiving.cancel()
    conn.send(receipts)


async def _receive(mqtt: aiomqtt.Client, receipts: list[Receipt]) -> None:
    async for message in mqtt.messages:
        arrived = time.time()
        if isinstance(message.payload, bytes | str):
            body = json.loads(message.payload)
            receipts.append((body["after"]["id"], body["type"], arrived))
