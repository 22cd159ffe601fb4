"""How each of the soak's faults is done to the running system (and undone).

Redis and the broker are stopped and started again (Redis from its append-only file, the
broker from its persistence file); the object store closes its port and opens it again
with its contents; the engine and the webhook receiver misbehave while their flag is
set; a role gets SIGKILL and the bench starts it again; a poison entry is written into
every consumer group's stream.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import cast

import redis

from agent.bench.soak_faults import Fault
from agent.bench.soak_roles import RoleProcess
from agent.bench.soak_servers import Servers
from streams.bus.keys import Keys

log = logging.getLogger(__name__)

POISON_FIELD = "soak-poison"
GARBAGE = b"\xff\xfe{not: json"


@dataclass
class Injector:
    servers: Servers
    roles: dict[str, RoleProcess]
    keys: Keys
    poisoned: dict[str, list[str]] = field(default_factory=dict)  # stream -> entry ids

    def apply(self, fault: Fault, begin: bool) -> None:
        log.info("soak: %s %s %s", "begin" if begin else "end", fault.kind, fault.target)
        if fault.kind == "redis":
            self.servers.redis.stop() if begin else self.servers.redis.start()
        elif fault.kind == "broker":
            self.servers.broker.stop() if begin else self.servers.broker.start()
        elif fault.kind == "store":
            self.servers.store.down() if begin else self.servers.store.up()
        elif fault.kind == "engine":
            self.servers.pixel.fault = fault.target if begin else None
        elif fault.kind == "receiver":
            self.servers.receiver.down = begin
        elif fault.kind == "kill":
            self.roles[fault.target].kill()
        elif fault.kind == "poison":
            self._poison()

    def _poison(self) -> None:
        client = redis.Redis.from_url(self.servers.redis.url)
        with client:
            for stream in (self.keys.jobs, self.keys.outbox, self.keys.archive):
                lookalike = _lookalike(client, stream)  # of a real entry, before any poison
                self.poisoned[stream] = [
                    _add(client, stream, {POISON_FIELD: GARBAGE}),
                    _add(client, stream, lookalike),
                ]


def _add(client: redis.Redis, stream: str, fields: dict[str, bytes]) -> str:
    entry_id = cast(bytes, client.xadd(stream, fields))  # type: ignore[arg-type]
    return entry_id.decode()


def _lookalike(client: redis.Redis, stream: str) -> dict[str, bytes]:
    """The field names of the stream's newest entry, every value garbage: an entry that
    looks like the real ones until it is read."""
    newest = cast(list[tuple[bytes, dict[bytes, bytes]]], client.xrevrange(stream, count=1))
    names = [name.decode() for name in newest[0][1]] if newest else ["type", "id"]
    return {name: GARBAGE for name in names} | {POISON_FIELD: b"1"}
