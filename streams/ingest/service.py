"""The ingest service: one reader thread per camera and one Redis writer, in one process."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis

from streams.buffer.frames import last_capture_s
from streams.buffer.health import CameraHealth, health_for
from streams.buffer.writer import FrameWriter
from streams.bus.keys import Keys
from streams.config import CameraSpec, IngestSettings
from streams.ingest.camera import CameraReader

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Running:
    spec: CameraSpec
    stop: threading.Event
    thread: threading.Thread


class IngestService:
    """Reads a set of cameras that may change while it runs (``sync``)."""

    def __init__(
        self,
        cameras: list[CameraSpec],
        client: redis.Redis,
        keys: Keys,
        settings: IngestSettings,
        realtime: bool = True,
        shard_id: str = "",
    ) -> None:
        self._stop = threading.Event()
        self._shard_id = shard_id
        self._client = client
        self._keys = keys
        self._settings = settings
        self._realtime = realtime
        self._initial = cameras
        self._readers: dict[str, _Running] = {}
        self._writer_thread: threading.Thread | None = None
        self._retention_s: dict[str, float] = {}
        self.healths: dict[str, CameraHealth] = {}
        self.writer: FrameWriter | None = None

    def start(self) -> IngestService:
        self.writer = FrameWriter(
            self._client,
            self._keys,
            retention_s=self._retention_s,
            healths=self.healths,
            queue_frames=self._settings.queue_frames,
            health_interval_s=self._settings.health_interval_s,
        )
        self._writer_thread = _spawn("vigil-writer", self.writer.run, self._stop)
        self.sync(self._initial)
        return self

    def sync(self, cameras: list[CameraSpec]) -> None:
        """Starts new cameras, stops removed ones, restarts changed ones.

        Returns once the stopped readers have ended (or ``join_s`` passed), so that a
        camera handed to another shard is no longer read here.
        """
        wanted = {spec.id: spec for spec in cameras}
        stopped = [
            self._stop_reader(camera_id)
            for camera_id, running in list(self._readers.items())
            if wanted.get(camera_id) != running.spec
        ]
        _join(stopped, self._join_s)
        for spec in cameras:
            if spec.id not in self._readers:
                self._start_reader(spec)

    @property
    def camera_ids(self) -> list[str]:
        return sorted(self._readers)

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stops the readers, then lets the writer flush what they handed over."""
        self._stop.set()
        threads = [running.thread for running in self._readers.values()]
        for running in self._readers.values():
            running.stop.set()
        if self._writer_thread is not None:
            threads.append(self._writer_thread)
        _join(threads, timeout_s)

    def _start_reader(self, spec: CameraSpec) -> None:
        assert self.writer is not None
        health = health_for(spec, self._shard_id)
        self.healths[spec.id] = health
        self._retention_s[spec.id] = spec.retention_s
        stop = threading.Event()
        reader = CameraReader(
            spec, health, self.writer, stop, self._realtime, self._stored_until(spec.id)
        )
        thread = _spawn(f"vigil-camera-{spec.id}", reader.run)
        self._readers[spec.id] = _Running(spec, stop, thread)
        log.info("camera %s: reading", spec.id)

    def _stop_reader(self, camera_id: str) -> threading.Thread:
        running = self._readers.pop(camera_id)
        running.stop.set()
        self.healths.pop(camera_id, None)
        log.info("camera %s: stopped reading", camera_id)
        return running.thread

    @property
    def _join_s(self) -> float:
        """Long enough for a reader to notice its stop, even inside a connect or a read."""
        return self._settings.connect_timeout_s + self._settings.read_timeout_s

    def health_lines(self) -> list[str]:
        """One dense line per camera, for the service log."""
        now = time.time()
        lines = []
        for camera_id, health in self.healths.items():
            h = health.snapshot(now)
            line = (
                f"camera {camera_id}: {h['state']}, {h['fps_in']} fps in, {h['fps_out']} fps "
                f"stored, {h['dropped']} dropped, {h['reconnects']} reconnects"
            )
            lines.append(line + (f", last error: {h['last_error']}" if h["last_error"] else ""))
        return lines

    def _stored_until(self, camera_id: str) -> float:
        try:
            return last_capture_s(self._client, self._keys, camera_id)
        except (redis.ConnectionError, redis.TimeoutError):
            return 0.0


def _join(threads: list[threading.Thread], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    alive = [thread.name for thread in threads if thread.is_alive()]
    if alive:
        log.warning("ingest threads still busy after %.0f s: %s", timeout_s, ", ".join(alive))


def _spawn(name: str, target: Callable[..., None], *args: object) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, name=name, daemon=True)
    thread.start()
    return thread
