"""What the soak watches while it runs: MQTT alert events with a real subscriber, the
footage's truth read from the frames the cameras stored, and the memory of the roles and
of Redis.

The truth is measured as the labels of the bundled footage are (``agent.eval.footage``):
a rule's colour in a frame, by the pixel engine's own test. It is read once a second
from each camera's newest stored frame rather than from the labels' video seconds,
because looped cameras that restart (ingest killed, Redis restarted) start their video
again from its beginning at a moment nobody can predict.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from dataclasses import dataclass, field
from typing import cast

import aiomqtt
import cv2
import numpy as np
import redis

from agent.bench.soak_roles import RoleProcess
from agent.eval.pixel_engine import question_colour, showing
from agent.mqtt import topics
from agent.pipeline.places import NO_ZONES, rule_zones
from agent.pipeline.rules import Rule
from streams.bus.keys import Keys
from streams.picture.overlay import STRIP_HEIGHT
from streams.zones import CameraZones, raster

RECONNECT_S = 1.0
MqttReceipt = tuple[str, str]  # (alert id, event type as published)


class MqttRecorder(threading.Thread):
    """Subscribes ``<prefix>/alerts`` at QoS 1 with a persistent session, so what the
    broker queued while this client was away (a broker restart) still arrives."""

    def __init__(self, port: int, prefix: str) -> None:
        super().__init__(name="soak-mqtt-recorder", daemon=True)
        self._port, self._prefix = port, prefix
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._receipts: list[MqttReceipt] = []
        self.subscribed = threading.Event()

    @property
    def receipts(self) -> list[MqttReceipt]:
        with self._lock:
            return list(self._receipts)

    def run(self) -> None:
        asyncio.run(self._main())

    def stop(self) -> None:
        self._stopping.set()
        self.join(10)

    async def _main(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(aiomqtt.MqttError, OSError):
                await self._session()
            await asyncio.sleep(RECONNECT_S)

    async def _session(self) -> None:
        async with aiomqtt.Client(
            "127.0.0.1", self._port, identifier="vigil-soak-recorder", clean_session=False
        ) as client:
            await client.subscribe(topics.alerts(self._prefix), qos=1)
            self.subscribed.set()
            while not self._stopping.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.5):
                        message = await anext(aiter(client.messages))
                        self._record(message.payload)

    def _record(self, payload: object) -> None:
        if isinstance(payload, bytes | str):
            body = json.loads(payload)
            with self._lock:
                self._receipts.append((str(body["after"]["id"]), str(body["type"])))


TruthSample = tuple[float, str, str, bool]  # (capture epoch s, camera, rule, colour seen)


@dataclass
class TruthReader:
    """The newest frame of each camera, once per call, against every rule's colour
    (inside the rule's zones on that camera, for a rule about zones)."""

    keys: Keys
    rules: list[Rule]
    zones: dict[str, CameraZones] = field(default_factory=dict)
    samples: list[TruthSample] = field(default_factory=list)
    _last_ts: dict[str, float] = field(default_factory=dict)

    def sample(self, client: redis.Redis, cameras: list[str]) -> None:
        for camera in cameras:
            newest = cast(
                list[tuple[bytes, dict[bytes, bytes]]],
                client.xrevrange(self.keys.frames(camera), count=1),
            )
            if not newest:
                continue
            fields = newest[0][1]
            ts = float(fields[b"ts"])
            if self._last_ts.get(camera) == ts:
                continue
            self._last_ts[camera] = ts
            self._judge(ts, camera, fields[b"jpeg"])

    def _judge(self, ts: float, camera: str, jpeg: bytes) -> None:
        picture = cv2.imdecode(np.frombuffer(jpeg, dtype=np.uint8), cv2.IMREAD_COLOR_RGB)
        if picture is None:
            return
        for rule in self.rules:
            colour = question_colour(rule.question)
            if colour is None or not _applies(rule, camera):
                continue
            places = rule_zones(rule, self.zones.get(camera, NO_ZONES))
            if places is None:
                continue  # not asked about this camera
            height, width = picture.shape[0] - STRIP_HEIGHT, picture.shape[1]
            within = raster(places, width, height)[None] if places else None
            seen = bool(showing(picture[None].astype(np.uint8), colour, within=within)[0])
            self.samples.append((ts, camera, rule.id, seen))


def _applies(rule: Rule, camera: str) -> bool:
    return "*" in rule.cameras or camera in rule.cameras


@dataclass
class MemorySamples:
    """Every ``sample``: each role's RSS (with its pid, since a restart starts afresh)
    and Redis's ``used_memory``."""

    rss: dict[str, list[tuple[float, int, int]]] = field(default_factory=dict)  # (s, pid, B)
    redis_used: list[tuple[float, int]] = field(default_factory=list)

    def sample(self, at_s: float, roles: dict[str, RoleProcess], client: redis.Redis) -> None:
        for name, role in roles.items():
            rss, pid = role.rss_bytes(), role.pid
            if rss is not None and pid is not None:
                self.rss.setdefault(name, []).append((at_s, pid, rss))
        with contextlib.suppress(redis.RedisError):
            info = cast(dict[str, object], client.info("memory"))
            self.redis_used.append((at_s, int(cast(int, info["used_memory"]))))


def now_s(started: float) -> float:
    return time.monotonic() - started
