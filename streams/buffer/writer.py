"""The one thread that writes sampled frames and health records to Redis.

Readers hand frames over through a bounded queue and never wait: when Redis is slow or
down the queue fills and further frames are dropped and counted per camera. Batches go
out as pipelines; a batch that fails on a lost connection is retried, not lost.
"""

from __future__ import annotations

import logging
import queue
import threading
import time

import redis

from streams.buffer.frames import COMMANDS_PER_FRAME, FrameRecord, append_frame
from streams.buffer.health import CameraHealth
from streams.bus.backoff import Backoff
from streams.bus.keys import Keys

log = logging.getLogger(__name__)

BATCH_FRAMES = 64
DEFAULT_RETENTION_S = 600.0
IDLE_POLL_S = 0.1


class FrameWriter:
    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        retention_s: dict[str, float],
        healths: dict[str, CameraHealth],
        queue_frames: int,
        health_interval_s: float,
    ) -> None:
        self._client = client
        self._keys = keys
        self._retention_s = retention_s
        self._healths = healths
        self._queue: queue.Queue[FrameRecord] = queue.Queue(maxsize=queue_frames)
        self._health_interval_s = health_interval_s
        self._next_health_at = 0.0
        self._backoff = Backoff(0.1, 2.0)
        self.redis_errors = 0

    def offer(self, record: FrameRecord) -> bool:
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            self._health(record).frame_dropped()
            return False
        return True

    def run(self, stop: threading.Event, grace_s: float = 2.0) -> None:
        pending: list[FrameRecord] = []
        while not stop.is_set():
            pending = pending or self._take_batch()
            if pending and self._write(pending):
                pending = []
            self._publish_health_when_due()
            if pending:
                stop.wait(self._backoff.next_delay_s())
        self._flush(pending, time.monotonic() + grace_s)

    def _take_batch(self) -> list[FrameRecord]:
        try:
            batch = [self._queue.get(timeout=IDLE_POLL_S)]
        except queue.Empty:
            return []
        while len(batch) < BATCH_FRAMES:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _write(self, batch: list[FrameRecord]) -> bool:
        """True when the batch is settled (stored or rejected); False to retry it."""
        pipe = self._client.pipeline(transaction=False)
        for record in batch:
            retention_s = self._retention_s.get(record.camera_id, DEFAULT_RETENTION_S)
            append_frame(pipe, self._keys, record, retention_s)
        try:
            results = pipe.execute(raise_on_error=False)
        except (redis.ConnectionError, redis.TimeoutError) as error:
            self._redis_failed(error)
            return False
        self._backoff.reset()
        frame_results = results[::COMMANDS_PER_FRAME]
        for record, result in zip(batch, frame_results, strict=True):
            self._settle(record, result)
        return True

    def _settle(self, record: FrameRecord, result: object) -> None:
        health = self._health(record)
        if isinstance(result, Exception):
            health.frame_dropped()
            log.warning(
                "camera %s: frame %s rejected: %s", record.camera_id, record.entry_id, result
            )
        else:
            health.frame_stored(record.ts, record.width, record.height)

    def _health(self, record: FrameRecord) -> CameraHealth:
        """The camera's health; a throwaway one for the last frames of a removed camera."""
        return self._healths.get(record.camera_id) or CameraHealth(record.camera_id, "", 1, 1.0)

    def _publish_health_when_due(self) -> None:
        now = time.time()
        if now < self._next_health_at:
            return
        self._next_health_at = now + self._health_interval_s
        pipe = self._client.pipeline(transaction=False)
        for camera_id, health in list(self._healths.items()):  # cameras come and go
            pipe.hset(self._keys.health(camera_id), mapping=health.snapshot(now))  # type: ignore[arg-type]
            pipe.sadd(self._keys.health_index, camera_id)
        try:
            pipe.execute()
        except (redis.ConnectionError, redis.TimeoutError) as error:
            self._redis_failed(error)

    def _flush(self, pending: list[FrameRecord], deadline: float) -> None:
        while time.monotonic() < deadline:
            batch = pending or self._take_batch()
            if not batch:
                break
            pending = [] if self._write(batch) else batch
            if pending:
                time.sleep(min(self._backoff.next_delay_s(), max(0.0, deadline - time.monotonic())))
        self._next_health_at = 0.0
        self._publish_health_when_due()

    def _redis_failed(self, error: Exception) -> None:
        self.redis_errors += 1
        if self.redis_errors == 1 or self.redis_errors % 100 == 0:
            log.warning("redis unavailable (%s failures so far): %s", self.redis_errors, error)
