"""What the soak runs Vigil against, all on loopback: a ``redis-server`` with an
append-only file, Mosquitto, the S3-compatible store (moto, in its own process), the
pixel engine's OpenAI-compatible server and a webhook receiver that can be taken down.

``Servers`` starts them all and stops every one it started, also when a start fails.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from agent.bench.delivery import free_port
from agent.bench.soak_store import SoakStore
from agent.eval.loopback import Reply, Request
from agent.eval.pixel_server import PixelServer
from agent.eval.receiver import WebhookReceiver
from agent.runtime.embedded_mosquitto import EmbeddedMosquitto
from agent.runtime.embedded_redis import EmbeddedRedis

BUCKET = "vigil"


class SoakReceiver(WebhookReceiver):
    """The eval's receiver; while ``down`` it answers 503 to everything, records nothing."""

    down = False

    def answer(self, request: Request) -> Reply:
        if self.down:
            return Reply(503)
        return super().answer(request)


@dataclass
class Servers:
    redis: EmbeddedRedis
    broker: EmbeddedMosquitto
    store: SoakStore
    pixel: PixelServer
    receiver: SoakReceiver
    _stack: ExitStack

    def __enter__(self) -> Servers:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stack.close()


def start_servers(folder: Path, secret: str) -> Servers:
    """Every server started, in a context that stops them (Redis last)."""
    with ExitStack() as stack:
        redis = EmbeddedRedis(folder / "redis", append_only=True)
        stack.callback(redis.stop)
        redis.start()
        broker = EmbeddedMosquitto(folder / "mosquitto", free_port())
        stack.callback(broker.stop)
        broker.start()
        store = SoakStore(free_port(), BUCKET, folder / "store.log")
        stack.callback(store.stop)
        store.start()
        pixel = stack.enter_context(PixelServer())
        receiver = stack.enter_context(SoakReceiver(secret))
        return Servers(redis, broker, store, pixel, receiver, stack.pop_all())
