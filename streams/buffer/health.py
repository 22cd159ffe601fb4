"""Per-camera ingest health: counters updated by the reader, a record published to Redis."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum

from streams.config import CameraSpec
from streams.urls import mask_url

STORED_RATE_PERIOD_S = 10.0  # fps_out: stored frames over this much capture time


class CameraState(StrEnum):
    CONNECTING = "connecting"
    ONLINE = "online"
    STALLED = "stalled"
    OFFLINE = "offline"


@dataclass
class _Counters:
    state: CameraState = CameraState.CONNECTING
    frames_in: int = 0  # frames the source sent
    frames_decoded: int = 0  # of which decoded: the others could never be sampled
    frames_out: int = 0
    dropped: int = 0  # sampled frames the Redis writer could not take
    source_dropped: int = 0  # decoded frames a live source dropped: the reader fell behind
    reconnects: int = 0
    last_frame_at: float = 0.0  # wall time of the last decoded frame
    last_stored_ts: float = 0.0
    last_error: str = ""
    last_error_at: float = 0.0
    width: int = 0
    height: int = 0


@dataclass
class CameraHealth:
    """Thread-safe: the reader, the writer and the publisher all touch it."""

    camera_id: str
    masked_url: str
    stall_frames: int
    stall_min_s: float
    shard: str = ""  # the ingest shard that reads the camera
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _c: _Counters = field(default_factory=_Counters, repr=False)
    _rate_mark: tuple[float, int] = (0.0, 0)  # (when, frames decoded by then)
    _fps_in: float = 0.0
    _source_fps: float = 0.0  # the last non-zero input rate: what a stall is scaled to
    _stored_ts: deque[float] = field(default_factory=deque, repr=False)

    def connecting(self) -> None:
        with self._lock:
            self._c.state = CameraState.CONNECTING

    def frame_decoded(self, now: float, source_frames: int = 1) -> None:
        """A decoded frame, standing for ``source_frames`` of the source's (itself and
        those skipped undecoded before it)."""
        with self._lock:
            self._c.frames_in += source_frames
            self._c.frames_decoded += 1
            self._c.last_frame_at = now
            self._c.state = CameraState.ONLINE

    def frame_stored(self, ts: float, width: int, height: int) -> None:
        with self._lock:
            self._c.frames_out += 1
            self._c.last_stored_ts = ts
            self._stored_ts.append(ts)
            while ts - self._stored_ts[0] > STORED_RATE_PERIOD_S:
                self._stored_ts.popleft()
            self._c.width, self._c.height = width, height

    def frame_dropped(self, count: int = 1) -> None:
        with self._lock:
            self._c.dropped += count

    def source_dropped(self, count: int) -> None:
        with self._lock:
            self._c.source_dropped += count

    def disconnected(self, error: str) -> None:
        with self._lock:
            self._c.state = CameraState.OFFLINE
            self._c.reconnects += 1
            self._c.last_error = error
            self._c.last_error_at = time.time()

    def snapshot(self, now: float) -> dict[str, str]:
        """The health record; also turns online into stalled when frames stop."""
        with self._lock:
            self._update_input_rate(now)
            if self._c.state is CameraState.ONLINE and self._is_stalled(now):
                self._c.state = CameraState.STALLED
            c = self._c
            return {
                "camera": self.camera_id,
                "url": self.masked_url,
                "shard": self.shard,
                "state": c.state.value,
                "fps_in": f"{self._fps_in:.2f}",
                "fps_out": f"{self._stored_rate(now):.2f}",
                "fps_out_period_s": f"{STORED_RATE_PERIOD_S:g}",
                "frames_in": str(c.frames_in),
                "frames_decoded": str(c.frames_decoded),
                "frames_out": str(c.frames_out),
                "dropped": str(c.dropped),
                "source_dropped": str(c.source_dropped),
                "reconnects": str(c.reconnects),
                "last_frame_ts": f"{c.last_stored_ts:.3f}",
                "last_error": c.last_error,
                "last_error_at": f"{c.last_error_at:.3f}",
                "width": str(c.width),
                "height": str(c.height),
                "updated_at": f"{now:.3f}",
            }

    def stall_timeout_s(self) -> float:
        scaled = self.stall_frames / self._source_fps if self._source_fps > 0 else 0.0
        return max(self.stall_min_s, scaled)

    def _is_stalled(self, now: float) -> bool:
        return now - self._c.last_frame_at > self.stall_timeout_s()

    def _stored_rate(self, now: float) -> float:
        """Frames stored per second of capture time over the last period: the writer
        stores in bursts, so counting them per second of wall time misreports the rate."""
        stored = self._stored_ts
        if len(stored) < 2 or now - stored[-1] > STORED_RATE_PERIOD_S:
            return 0.0
        return (len(stored) - 1) / (stored[-1] - stored[0])

    def _update_input_rate(self, now: float) -> None:
        mark_at, mark_in = self._rate_mark
        elapsed = now - mark_at
        if mark_at and elapsed < 0.5:
            return
        if mark_at:
            self._fps_in = (self._c.frames_in - mark_in) / elapsed
            if self._fps_in > 0:
                self._source_fps = self._fps_in
        self._rate_mark = (now, self._c.frames_in)


def health_for(spec: CameraSpec, shard: str = "") -> CameraHealth:
    return CameraHealth(
        camera_id=spec.id,
        masked_url=mask_url(spec.url.get_secret_value()),
        stall_frames=spec.stall_frames,
        stall_min_s=spec.stall_min_s,
        shard=shard,
    )
