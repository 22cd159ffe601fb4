"""Jobs on the Redis job stream: window jobs (verdicts) and summary jobs (root cause).

Enqueueing is idempotent: a job id is deterministic (``{camera}:{window_start_ms}``,
``summary:{alert_id}``) and a marker key makes a second enqueue of the same id a no-op.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

import redis.asyncio as aioredis

from streams.bus.keys import WORKERS_GROUP, Keys

SEEN_TTL_S = 24 * 3600

Held = Callable[[], Awaitable[bool]]
"""Whether this worker still holds the job it works on (see ``JobQueue.hold``)."""


class JobTakenOverError(Exception):
    """Another worker took the job over while this one worked on it (this one was paused
    past ``claim_idle_s``): the effects are that worker's to write."""


async def always_held() -> bool:
    return True


_ENQUEUE = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  if ARGV[3] ~= '' then redis.call('HSET', KEYS[3], 'latest_ms', ARGV[3]) end
  return redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', unpack(ARGV, 4))
end
return false
"""

# Scripts rather than MULTI blocks: one round trip either way, and redis-py's asyncio
# cluster client runs each command queued in a transaction in a thread of its own.
_ATTEMPT = """
local attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
redis.call('EXPIRE', KEYS[1], ARGV[1])
return attempts
"""

_ACK = """
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return redis.call('DEL', KEYS[2])
"""

# Still this consumer's job? Then its idle time starts again, so that no other worker
# takes it over while it is being worked on (JUSTID: not counted as a delivery).
_HOLD = """
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if #pending == 0 or pending[1][2] ~= ARGV[2] then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'JUSTID')
return 1
"""

# A consumer that holds no job leaves the group; one that still holds some stays, so
# that another worker can claim them from it.
_LEAVE = """
if #redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2]) == 0 then
  redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
  return 1
end
return 0
"""


class JobKind(StrEnum):
    WINDOW = "window"
    SUMMARY = "summary"


@dataclass(frozen=True, slots=True)
class Job:
    kind: JobKind
    camera_id: str
    start_ms: int = 0  # window jobs: the window; summary jobs: the opening window
    end_ms: int = 0
    rule_ids: tuple[str, ...] = ()
    alert_id: str = ""  # summary jobs
    reason: str = ""  # why the window runs (motion, heartbeat, always)
    fps: float = 4.0  # the camera's sampling rate: the clip's true fps

    @property
    def id(self) -> str:
        if self.kind is JobKind.SUMMARY:
            return f"summary:{self.alert_id}"
        return f"{self.camera_id}:{self.start_ms}"

    def fields(self) -> dict[str, str]:
        return {
            "id": self.id,
            "kind": self.kind.value,
            "camera": self.camera_id,
            "start_ms": str(self.start_ms),
            "end_ms": str(self.end_ms),
            "rules": json.dumps(list(self.rule_ids)),
            "alert": self.alert_id,
            "reason": self.reason,
            "fps": repr(self.fps),
        }

    @classmethod
    def from_fields(cls, raw: dict[bytes, bytes]) -> Job:
        fields = {key.decode(): value.decode() for key, value in raw.items()}
        return cls(
            kind=JobKind(fields["kind"]),
            camera_id=fields["camera"],
            start_ms=int(fields["start_ms"]),
            end_ms=int(fields["end_ms"]),
            rule_ids=tuple(json.loads(fields["rules"])),
            alert_id=fields.get("alert", ""),
            reason=fields.get("reason", ""),
            fps=float(fields.get("fps", "4.0")),
        )


class JobQueue:
    def __init__(self, client: aioredis.Redis, keys: Keys, max_len: int) -> None:
        self._client = client
        self._keys = keys
        self._max_len = max_len
        self._enqueue = client.register_script(_ENQUEUE)
        self._leave = client.register_script(_LEAVE)
        self._attempt = client.register_script(_ATTEMPT)
        self._ack = client.register_script(_ACK)
        self._hold = client.register_script(_HOLD)

    async def ensure_group(self) -> None:
        try:
            await self._client.xgroup_create(self._keys.jobs, WORKERS_GROUP, id="0", mkstream=True)
        except aioredis.ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    async def enqueue(self, job: Job) -> bool:
        """True when added; False when this job id was enqueued before."""
        latest = str(job.start_ms) if job.kind is JobKind.WINDOW else ""
        pairs = [item for pair in job.fields().items() for item in pair]
        added = await self._enqueue(
            keys=[
                self._keys.job_seen(job.id),
                self._keys.jobs,
                self._keys.schedule(job.camera_id),
            ],
            args=[SEEN_TTL_S, self._max_len, latest, *pairs],
        )
        return added is not None

    async def attempt(self, job_id: str) -> int:
        """Counts one more delivery of the job; its number (1 the first time)."""
        key = self._keys.job_attempts(job_id)
        return int(await self._attempt(keys=[key], args=[SEEN_TTL_S]))

    async def ack(self, entry_id: bytes, job_id: str) -> None:
        """The job is done: acknowledged, and its delivery count dropped with it."""
        keys = [self._keys.jobs, self._keys.job_attempts(job_id)]
        await self._ack(keys=keys, args=[WORKERS_GROUP, entry_id])

    async def hold(self, entry_id: bytes, consumer: str) -> bool:
        """True while ``consumer`` holds the job (its idle time renewed); False once
        another worker took it over or it was acknowledged."""
        args: list[str | bytes] = [WORKERS_GROUP, consumer, entry_id]
        return bool(await self._hold(keys=[self._keys.jobs], args=args))

    async def leave(self, consumer: str) -> bool:
        """Drops the consumer from the group unless it still holds jobs; True if dropped."""
        return bool(await self._leave(keys=[self._keys.jobs], args=[WORKERS_GROUP, consumer]))

    async def forget_gone(self, idle_s: float) -> list[str]:
        """Drops consumers that hold nothing and have not read for ``idle_s``: workers that
        died (their jobs were taken over). A live worker reads every second; one that
        comes back after a long pause is simply added again by its next read."""
        infos = await self._client.xinfo_consumers(self._keys.jobs, WORKERS_GROUP)
        idle = [
            info["name"].decode()
            for info in infos
            if int(info["pending"]) == 0 and int(info["idle"]) > idle_s * 1000
        ]
        return [name for name in idle if await self.leave(name)]
