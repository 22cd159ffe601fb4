"""A Redis connection of its own for each live feed (/v1/events).

A feed waits in XREAD for as long as its client listens, so on the shared client it would
hold one of the pool's connections that every other request (and, under ``vigil up``,
the worker, scheduler and archiver) draws from. Each feed gets one connection, made with
the shared client's settings (to the node holding the stream on a Redis Cluster), named
``vigil-feed`` in CLIENT LIST, and closed when the feed ends.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.connection import AbstractConnection

FEED_CLIENT_NAME = "vigil-feed"


async def feed_connection(client: aioredis.Redis, stream: str) -> aioredis.Redis:
    """A client with one connection of its own that reads ``stream`` as ``client`` would;
    close it with ``aclose()``."""
    if isinstance(client, aioredis.RedisCluster):
        await client.initialize()
        node = client.get_node_from_key(stream)
        return _single(node.connection_class, node.connection_kwargs)
    pool = client.connection_pool
    return _single(pool.connection_class, pool.connection_kwargs)


def _single(connection_class: type[AbstractConnection], kwargs: dict[str, Any]) -> aioredis.Redis:
    pool = aioredis.ConnectionPool(
        connection_class=connection_class,
        max_connections=1,
        **{**kwargs, "client_name": FEED_CLIENT_NAME},
    )
    return aioredis.Redis.from_pool(pool)
