"""A hold on one key, so one holder at a time does the work: delivering a webhook
subscription (and keeping its order), or the archive's upkeep."""

from __future__ import annotations

import time

import redis.asyncio as aioredis

_HOLD = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class Lease:
    def __init__(self, client: aioredis.Redis, key: str, owner: str, lease_s: float) -> None:
        self._client = client
        self._key = key
        self._owner = owner
        self._lease_ms = int(lease_s * 1000)
        self._held_until = 0.0

    async def hold(self) -> bool:
        """True while this owner holds the lease; renews it when a third of it is gone."""
        now = time.monotonic()
        if now < self._held_until - self._lease_ms / 1000 * 2 / 3:
            return True
        held = bool(await self._client.eval(_HOLD, 1, self._key, self._owner, self._lease_ms))
        self._held_until = now + self._lease_ms / 1000 if held else 0.0
        return held

    async def release(self) -> None:
        self._held_until = 0.0
        await self._client.eval(_RELEASE, 1, self._key, self._owner)
