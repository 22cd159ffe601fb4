"""The soak's API traffic, each in a process of its own so the bench's own work never
skews what it measures:

- ``probe``: ``GET /healthz`` every ``PROBE_EVERY_S`` for the whole run, each answer's
  time kept (what an orchestrator's liveness probe sees);
- ``load``: hostile bursts at the given times: bodies far over any sane size (with and
  without a key), hundreds of SSE clients held open, and floods of searches and asks.
  Every answer's status is counted; a 5xx is a failure, a 4xx (413, 429, …) the bound
  doing its work.

Run as ``python -m agent.bench.soak_load probe URL UNTIL OUT`` or
``python -m agent.bench.soak_load load URL TOKEN BURSTS OUT`` (BURSTS: JSON list of
[start, end] epoch seconds); each writes one JSON document to OUT.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path

import httpx

PROBE_EVERY_S = 0.1
PROBE_TIMEOUT_S = 2.0
REQUEST_TIMEOUT_S = 10.0
SSE_CLIENTS = 300
BIG_BODY_BYTES = 8 * 1024 * 1024
BIG_BODIES = 8  # per path and burst
SEARCH_CONCURRENCY, SEARCH_MAX = 8, 400
ASK_CONCURRENCY, ASK_MAX = 4, 100
SEARCH: dict[str, str | int] = {"q": "red object", "limit": 20}
ASK = {"question": "Is a red object in the picture?", "camera": "stays", "seconds": 8}


async def probe(url: str, until: float) -> list[tuple[float, float | None, int | None]]:
    """(epoch s, ms or None on no answer, status) of every probe."""
    samples: list[tuple[float, float | None, int | None]] = []
    async with httpx.AsyncClient(base_url=url, timeout=PROBE_TIMEOUT_S) as client:
        while time.time() < until:
            started = time.time()
            clock = time.perf_counter()
            try:
                status: int | None = (await client.get("/healthz")).status_code
                took: float | None = (time.perf_counter() - clock) * 1000
            except httpx.HTTPError:
                status, took = None, None
            samples.append((round(started, 3), None if took is None else round(took, 2), status))
            await asyncio.sleep(max(0.0, started + PROBE_EVERY_S - time.time()))
    return samples


class Tally:
    def __init__(self) -> None:
        self.statuses: Counter[str] = Counter()
        self.latencies_ms: dict[str, list[float]] = {}

    async def call(self, kind: str, request: Callable[[], Awaitable[httpx.Response]]) -> None:
        clock = time.perf_counter()
        try:
            status = str((await request()).status_code)
        except httpx.HTTPError as error:
            status = type(error).__name__
        self.statuses[f"{kind}:{status}"] += 1
        self.latencies_ms.setdefault(kind, []).append((time.perf_counter() - clock) * 1000)

    def to_json(self) -> dict[str, object]:
        server_errors = sum(n for key, n in self.statuses.items() if key.split(":")[1][0] == "5")
        p99 = {kind: _p99(values) for kind, values in self.latencies_ms.items()}
        return {"statuses": dict(self.statuses), "p99_ms": p99, "server_errors": server_errors}


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return round(ordered[max(0, int(len(ordered) * 0.99 + 0.5) - 1)], 1) if ordered else -1.0


async def _big_bodies(client: httpx.AsyncClient, token: str, tally: Tally) -> None:
    body = b"[" + b"0," * (BIG_BODY_BYTES // 2) + b"0]"
    json_type = {"Content-Type": "application/json"}
    auth = {**json_type, "Authorization": f"Bearer {token}"}
    for _ in range(BIG_BODIES):
        await tally.call(
            "body-anonymous", lambda: client.post("/v1/cameras", content=body, headers=json_type)
        )
        await tally.call(
            "body-keyed", lambda: client.post("/v1/cameras", content=body, headers=auth)
        )
        await tally.call("body-ask", lambda: client.post("/v1/ask", content=body, headers=auth))


async def _sse_client(client: httpx.AsyncClient, token: str, until: float, tally: Tally) -> None:
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    try:
        async with client.stream("GET", "/v1/events", headers=headers) as response:
            tally.statuses[f"sse:{response.status_code}"] += 1
            if response.status_code == 200:
                async with asyncio.timeout(max(0.1, until - time.time())):
                    async for _ in response.aiter_bytes():
                        pass
    except TimeoutError:
        return  # held until the burst ended: what the client was for
    except httpx.HTTPError as error:
        tally.statuses[f"sse:{type(error).__name__}"] += 1


async def _flood(
    until: float, concurrency: int, most: int, send: Callable[[], Awaitable[None]]
) -> None:
    budget = iter(range(most))

    async def lane() -> None:
        while time.time() < until and next(budget, None) is not None:
            await send()

    await asyncio.gather(*(lane() for _ in range(concurrency)))


async def burst(url: str, token: str, start: float, end: float, tally: Tally) -> None:
    await asyncio.sleep(max(0.0, start - time.time()))
    auth = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=SSE_CLIENTS + 64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=url, timeout=REQUEST_TIMEOUT_S, limits=limits) as client:
        search = partial(client.get, "/v1/search", params=SEARCH, headers=auth)
        ask = partial(client.post, "/v1/ask", json=ASK, headers=auth)
        await asyncio.gather(
            _big_bodies(client, token, tally),
            *(_sse_client(client, token, end, tally) for _ in range(SSE_CLIENTS)),
            _flood(end, SEARCH_CONCURRENCY, SEARCH_MAX, lambda: tally.call("search", search)),
            _flood(end, ASK_CONCURRENCY, ASK_MAX, lambda: tally.call("ask", ask)),
        )


async def load(url: str, token: str, bursts: list[tuple[float, float]]) -> dict[str, object]:
    tally = Tally()
    for start, end in bursts:
        await burst(url, token, start, end, tally)
    return tally.to_json()


def main(argv: list[str]) -> None:
    command, url = argv[0], argv[1]
    if command == "probe":
        result: object = asyncio.run(probe(url, float(argv[2])))
    else:
        bursts = [(float(start), float(end)) for start, end in json.loads(argv[3])]
        result = asyncio.run(load(url, argv[2], bursts))
    Path(argv[-1]).write_text(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
