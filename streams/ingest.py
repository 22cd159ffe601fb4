"""The ingest service: one reader thread per camera and one Redis writer, in one process."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import redis

from streams.camera import CameraReader
from streams.config import CameraSpec, IngestSettings
from streams.framebuffer import last_capture_s
from streams.health import CameraHealth, health_for
from streams.keys import Keys
from streams.sizing import load_resizer
from streams.writer import FrameWriter

log = logging.getLogger(__name__)


class IngestService:
    def __init__(
        self,
        cameras: list[CameraSpec],
        client: redis.Redis,
        keys: Keys,
        settings: IngestSettings,
        realtime: bool = True,
    ) -> None:
        self._stop = threading.Event()
        self._client = client
        self._keys = keys
        self._settings = settings
        self._realtime = realtime
        self._cameras = cameras
        self._threads: list[threading.Thread] = []
        self.healths: dict[str, CameraHealth] = {}
        self.writer: FrameWriter | None = None

    def start(self) -> IngestService:
        load_resizer()
        self.healths = {spec.id: health_for(spec) for spec in self._cameras}
        self.writer = FrameWriter(
            self._client,
            self._keys,
            retention_s={spec.id: spec.retention_s for spec in self._cameras},
            healths=self.healths,
            queue_frames=self._settings.queue_frames,
            health_interval_s=self._settings.health_interval_s,
        )
        self._spawn("vigil-writer", self.writer.run, self._stop)
        for spec in self._cameras:
            reader = CameraReader(
                spec,
                self.healths[spec.id],
                self.writer,
                self._stop,
                self._realtime,
                self._stored_until(spec.id),
            )
            self._spawn(f"vigil-camera-{spec.id}", reader.run)
        log.info("ingest started for %d camera(s)", len(self._cameras))
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stops the readers, then lets the writer flush what they handed over."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout_s)
        alive = [thread.name for thread in self._threads if thread.is_alive()]
        if alive:
            log.warning("ingest threads still busy after %.0f s: %s", timeout_s, ", ".join(alive))

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

    def wait(self, timeout_s: float | None = None) -> bool:
        """Blocks until stopped; True when stopped."""
        return self._stop.wait(timeout_s)

    def _spawn(self, name: str, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _stored_until(self, camera_id: str) -> float:
        try:
            return last_capture_s(self._client, self._keys, camera_id)
        except (redis.ConnectionError, redis.TimeoutError):
            return 0.0
