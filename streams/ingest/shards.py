"""Ingest shards: any number of ingest processes share the cameras through Redis leases.

Each shard keeps its membership alive in ``ingest-shards`` (a sorted set scored by expiry,
on Redis's own clock) and holds a lease per camera it reads (``ingest-lease:{cam}``, the
shard id, expiring after ``lease_s``). Every step the shard renews both, works out from
the live shards which cameras are its share (``streams/ingest/assignment.py``), takes the free
leases of its share and gives back the cameras that now belong to another shard. A shard
reads a camera only while it holds the camera's lease, so no camera is read twice; a
shard that dies stops renewing, and its cameras are taken over when its leases expire.
Every script touches one key, so the same code runs on a Redis Cluster.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

import redis

from streams.bus.keys import Keys
from streams.ingest.assignment import assign

log = logging.getLogger(__name__)

# Renews the caller's membership, drops expired members; returns Redis's time (ms) and
# every live member with its expiry.
_HEARTBEAT = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms)
redis.call('ZADD', KEYS[1], now_ms + tonumber(ARGV[2]), ARGV[1])
return {now_ms, redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')}
"""

# Takes a free lease or renews the caller's own: 0 when taken or renewed, else the ms
# until another shard's lease runs out.
_CLAIM = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 0
elseif not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 0
end
return math.max(redis.call('PTTL', KEYS[1]), 1)
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

WAKE_MARGIN_S = 0.05  # after an expiry, so that Redis has dropped what expired


@dataclass(frozen=True, slots=True)
class ShardStep:
    """What one step decided."""

    readable: frozenset[str]  # cameras whose lease this shard holds: read these
    give_back: frozenset[str]  # cameras to stop reading, then ``release``
    live_shards: tuple[str, ...]
    wake_in_s: float  # when to step next: an expiry may change the assignment


class IngestShard:
    def __init__(self, client: redis.Redis, keys: Keys, shard_id: str, lease_s: float) -> None:
        self.id = shard_id
        self._client = client
        self._keys = keys
        self._lease_ms = int(lease_s * 1000)
        self._heartbeat = client.register_script(_HEARTBEAT)
        self._claim = client.register_script(_CLAIM)
        self._release = client.register_script(_RELEASE)
        self._valid_until: dict[str, float] = {}  # camera -> monotonic end of our lease

    @property
    def period_s(self) -> float:
        return self._lease_ms / 3000

    def step(self, camera_ids: Iterable[str]) -> ShardStep:
        """Renews membership and leases; raises redis errors (then see ``still_valid``)."""
        now_ms, members = self._beat()
        owners = assign(camera_ids, members)
        mine = {camera for camera, owner in owners.items() if owner == self.id}
        give_back = frozenset(set(self._valid_until) - mine)
        readable, lease_waits = self._claim_all(mine)
        member_waits = [expiry - now_ms for shard, expiry in members.items() if shard != self.id]
        wake_ms = min([self._lease_ms / 3, *lease_waits, *member_waits])
        return ShardStep(
            readable=frozenset(readable),
            give_back=give_back,
            live_shards=tuple(sorted(members)),
            wake_in_s=max(wake_ms / 1000, 0.0) + WAKE_MARGIN_S,
        )

    def still_valid(self) -> frozenset[str]:
        """Cameras whose lease cannot have expired yet, by this process's own clock."""
        now = time.monotonic()
        return frozenset(camera for camera, until in self._valid_until.items() if until > now)

    def release(self, camera_ids: Iterable[str]) -> None:
        """Gives leases back (after their readers stopped) so another shard takes them now."""
        for camera_id in camera_ids:
            self._valid_until.pop(camera_id, None)
            self._release(keys=[self._keys.ingest_lease(camera_id)], args=[self.id])

    def leave(self) -> None:
        """Gives every lease back and leaves the membership: the others take over at once."""
        try:
            self.release(list(self._valid_until))
            self._client.zrem(self._keys.ingest_shards, self.id)
        except (redis.ConnectionError, redis.TimeoutError) as error:
            log.warning("shard %s: leases left to expire (Redis unavailable: %s)", self.id, error)

    def _beat(self) -> tuple[int, dict[str, int]]:
        args: list[str | int] = [self.id, self._lease_ms]
        reply = cast(list[object], self._heartbeat(keys=[self._keys.ingest_shards], args=args))
        flat = cast(list[bytes], reply[1])
        members = {flat[i].decode(): int(float(flat[i + 1])) for i in range(0, len(flat), 2)}
        return int(cast(int, reply[0])), members

    def _claim_all(self, camera_ids: set[str]) -> tuple[set[str], list[int]]:
        """Cameras now held, and the ms until each lease held by another shard runs out."""
        held: set[str] = set()
        waits: list[int] = []
        for camera_id in sorted(camera_ids):
            started = time.monotonic()
            key = self._keys.ingest_lease(camera_id)
            wait = int(cast(int, self._claim(keys=[key], args=[self.id, self._lease_ms])))
            if wait == 0:
                held.add(camera_id)
                self._valid_until[camera_id] = started + self._lease_ms / 1000
            else:
                waits.append(wait)
                self._valid_until.pop(camera_id, None)
        return held, waits
