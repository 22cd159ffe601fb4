"""Which ingest shard should read which camera: the same answer on every shard.

Rendezvous hashing with bounded loads: every (camera, shard) pair has a hash weight, and
the pairs are granted strongest first while the shard has room, so no shard takes more
than its fair share (``ceil(cameras / shards)``) and most cameras keep their shard when
shards come and go. Every shard that sees the same cameras and the same live
shards computes the same assignment, so no shard has to ask another.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Iterable


def assign(camera_ids: Iterable[str], shard_ids: Iterable[str]) -> dict[str, str]:
    """Camera id -> shard id; empty when there is no shard."""
    cameras = set(camera_ids)
    shards = set(shard_ids)
    if not shards:
        return {}
    room = math.ceil(len(cameras) / len(shards))
    pairs = sorted(
        ((_weight(shard, camera), camera, shard) for camera in cameras for shard in shards),
        reverse=True,
    )
    loads: Counter[str] = Counter()
    owners: dict[str, str] = {}
    for _, camera_id, shard_id in pairs:
        if camera_id not in owners and loads[shard_id] < room:
            owners[camera_id] = shard_id
            loads[shard_id] += 1
    return owners


def _weight(shard_id: str, camera_id: str) -> int:
    digest = hashlib.blake2b(f"{shard_id}\0{camera_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")
