"""``vigil bench webhooks``: delivery rate and latency to local receivers, one of them slow.

Events are written to the outbox at a fixed rate; the dispatcher fans them out to ten
subscriptions whose receivers run in a separate process (so they do not share the
dispatcher's CPU), one answering slowly. Latency is from the event's XADD to its arrival.
``lost`` counts events that a receiver neither got nor still has waiting in its queue.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import statistics
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

import redis.asyncio as aioredis

from agent.bench.delivery import answer_counts, drain, free_port, paced
from agent.bench.output import echo_figures
from agent.runtime.embedded_redis import EmbeddedRedis
from agent.webhooks.dispatcher import Dispatcher
from agent.webhooks.settings import WebhookSettings
from agent.webhooks.signing import new_secret
from agent.webhooks.subscriptions import SubscriptionStore, WebhookIn, new_subscription
from streams.bus.keys import Keys

KEYS = Keys("bench:")
SETTINGS = WebhookSettings(allow_hosts=["127.0.0.1"], poll_s=0.2)
RESPONSE = b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n"
Arrival = tuple[str, float]  # (webhook-id, arrival epoch s)


@dataclass(frozen=True, slots=True)
class BenchConfig:
    receivers: int = 10
    rate: float = 200.0
    seconds: float = 10.0
    slow_delay_s: float = 0.25
    drain_s: float = 30.0


def main(config: BenchConfig, as_json: bool) -> None:
    echo_figures(measure(config), as_json, width=22)


def measure(config: BenchConfig) -> dict[str, float | int]:
    """One run on a private Redis: the figures ``main`` prints."""
    with tempfile.TemporaryDirectory() as tmp:
        redis_server = EmbeddedRedis(Path(tmp), append_only=False).start()
        try:
            return asyncio.run(_bench(config, redis_server.url))
        finally:
            redis_server.stop()


async def _bench(config: BenchConfig, redis_url: str) -> dict[str, float | int]:
    ports = [free_port() for _ in range(config.receivers)]
    parent, child = multiprocessing.get_context("spawn").Pipe()
    process = multiprocessing.get_context("spawn").Process(
        target=_receivers_main, args=(ports, config.slow_delay_s, child), daemon=True
    )
    process.start()
    parent.recv()  # listening
    client = aioredis.from_url(redis_url)
    subscriptions = await _subscribe(client, ports)
    stop = asyncio.Event()
    dispatcher = asyncio.create_task(Dispatcher(client, KEYS, SETTINGS, "http://bench").run(stop))
    await asyncio.sleep(1.5)  # the dispatcher has found the subscriptions
    sent, started = await _publish(client, config)
    healthy_total = len(sent) * (config.receivers - 1)
    await drain(parent, healthy_total, config.drain_s)
    stop.set()
    await dispatcher
    parent.send("report")
    arrivals: list[list[Arrival]] = parent.recv()
    process.join(10)
    backlog = int(await client.llen(KEYS.webhook_queue(subscriptions[0])))
    await client.aclose()
    return _report(sent, arrivals, backlog, started)


async def _subscribe(client: aioredis.Redis, ports: list[int]) -> list[str]:
    store = SubscriptionStore(client, KEYS)
    ids = []
    for port in ports:
        subscription = new_subscription(
            WebhookIn(url=f"http://127.0.0.1:{port}/hook"), new_secret()
        )
        await store.put(subscription)
        ids.append(subscription.id)
    return ids


async def _publish(client: aioredis.Redis, config: BenchConfig) -> tuple[dict[str, float], float]:
    """Events at the configured rate; returns each one's id with its XADD time."""
    sent: dict[str, float] = {}

    async def send(number: int) -> None:
        payload = {"type": "alert.updated", "alert_id": f"al_{number:020x}", "camera": "bench"}
        fields = {**payload, "payload": json.dumps(payload)}
        added = await client.xadd(KEYS.outbox, fields)  # type: ignore[arg-type]
        entry_id = added.decode() if isinstance(added, bytes) else str(added)
        sent[f"msg_{entry_id}"] = int(entry_id.split("-")[0]) / 1000

    started = await paced(config.rate, int(config.rate * config.seconds), send)
    return sent, started


def _report(
    sent: dict[str, float], arrivals: list[list[Arrival]], slow_backlog: int, started: float
) -> dict[str, float | int]:
    slow, healthy = arrivals[0], [item for group in arrivals[1:] for item in group]
    latencies = sorted((at - sent[msg_id]) * 1000 for msg_id, at in healthy if msg_id in sent)
    lost = sum(len(set(sent) - {m for m, _ in group}) for group in arrivals[1:])
    lost += max(0, len(sent) - len({m for m, _ in slow}) - slow_backlog)
    elapsed = max(at for _, at in healthy) - started if healthy else 1.0
    return {
        "events": len(sent),
        "receivers": len(arrivals),
        "deliveries": len(healthy) + len(slow),
        "deliveries_per_s": round(len(healthy) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies), 2) if latencies else -1.0,
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 2) if latencies else -1.0,
        "lost": lost,
        "slow_delivered": len(slow),
        "slow_backlog": slow_backlog,
    }


def _receivers_main(ports: list[int], slow_delay_s: float, conn: Connection) -> None:
    asyncio.run(_receivers(ports, slow_delay_s, conn))


async def _receivers(ports: list[int], slow_delay_s: float, conn: Connection) -> None:
    arrivals: list[list[Arrival]] = [[] for _ in ports]
    servers = [
        await asyncio.start_server(
            _handler(arrivals[i], slow_delay_s if i == 0 else 0.0), "127.0.0.1", port
        )
        for i, port in enumerate(ports)
    ]
    conn.send("ready")
    await answer_counts(conn, lambda: sum(len(group) for group in arrivals[1:]))
    for server in servers:
        server.close()
    conn.send(arrivals)


def _handler(arrivals: list[Arrival], delay_s: float):  # type: ignore[no-untyped-def]
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                headers = _headers(head)
                await reader.readexactly(int(headers.get("content-length", "0")))
                arrivals.append((headers.get("webhook-id", ""), time.time()))
                if delay_s:
                    await asyncio.sleep(delay_s)
                writer.write(RESPONSE)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    return handle


def _headers(head: bytes) -> dict[str, str]:
    lines = head.decode("latin-1").split("\r\n")[1:]
    pairs = (line.split(":", 1) for line in lines if ":" in line)
    return {name.strip().lower(): value.strip() for name, value in pairs}
