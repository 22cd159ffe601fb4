"""What the delivery benches (webhooks, MQTT) share: a paced load, a receiving process
asked for its count until everything arrived, nearest-rank percentiles, a loopback port."""

from __future__ import annotations

import asyncio
import math
import socket
import time
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection

COUNT = "count"  # asks the receiving process how many it has; anything else ends it


async def paced(rate: float, count: int, send: Callable[[int], Awaitable[None]]) -> float:
    """Calls ``send`` with 0 … count-1 at ``rate`` per second; returns the start (epoch s)."""
    started = time.time()
    for number in range(count):
        delay = started + number / rate - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        await send(number)
    return started


async def drain(parent: Connection, expected: int, drain_s: float) -> None:
    """Waits until the receiving process counts ``expected`` arrivals, or ``drain_s``."""
    deadline = time.time() + drain_s
    while time.time() < deadline:
        parent.send(COUNT)
        if await asyncio.to_thread(parent.recv) >= expected:
            return
        await asyncio.sleep(0.2)


async def answer_counts(conn: Connection, count: Callable[[], int]) -> None:
    """In the receiving process: answers ``drain``'s questions until another command."""
    while await asyncio.to_thread(conn.recv) == COUNT:
        conn.send(count())


def percentile(ordered: list[float], fraction: float) -> float:
    """Nearest rank of an ascending list, rounded to 0.01; -1.0 when it is empty."""
    if not ordered:
        return -1.0
    return round(ordered[max(0, math.ceil(len(ordered) * fraction) - 1)], 2)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
