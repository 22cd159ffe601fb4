"""One camera's reader thread: connect, decode, sample, hand frames on; reconnect forever."""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

import av.error

from streams.buffer.frames import FrameRecord
from streams.buffer.health import CameraHealth
from streams.bus.backoff import Backoff
from streams.config import CameraSpec
from streams.decode.clock import CaptureClock
from streams.ingest.processor import FrameProcessor
from streams.ingest.sources import SourceError, SourceFrame, SourceOptions, open_frames
from streams.urls import CameraUrl, parse_camera_url, redact

log = logging.getLogger(__name__)


class FrameSink(Protocol):
    def offer(self, record: FrameRecord) -> bool:
        """Takes the frame without blocking; False when it had to drop it."""
        ...


class CameraReader:
    def __init__(
        self,
        spec: CameraSpec,
        health: CameraHealth,
        sink: FrameSink,
        stop: threading.Event,
        realtime: bool = True,
        floor_s: float = 0.0,
    ) -> None:
        self.spec = spec
        self._url = parse_camera_url(spec.url.get_secret_value())
        self._secrets = (self._url.password,) if self._url.password else ()
        self.health = health
        self._sink = sink
        self._stop = stop
        self._options = SourceOptions(
            spec.connect_timeout_s, spec.read_timeout_s, realtime, health.source_dropped,
            decode=spec.decode,
        )  # fmt: skip
        clock = CaptureClock(max_drift_s=2.0 if realtime else None, floor_s=floor_s)
        self._processor = FrameProcessor(
            spec.id, spec.fps, spec.max_pixels, spec.jpeg_quality, clock
        )
        self._backoff = Backoff(spec.backoff_initial_s, spec.backoff_cap_s)
        self._frames_seen = 0

    def run(self) -> None:
        while not self._stop.is_set():
            self.health.connecting()
            error = self._read_one_connection(self._url)
            if self._stop.is_set():
                break
            self.health.disconnected(error)
            delay = self._backoff.next_delay_s()
            log.warning("camera %s: %s; reconnecting in %.1f s", self.spec.id, error, delay)
            if self._stop.wait(delay):
                break

    def _read_one_connection(self, url: CameraUrl) -> str:
        """Reads until the connection ends; returns why it ended (safe to log)."""
        self._processor.new_connection()
        started = time.monotonic()
        frames_before = self._frames_seen
        try:
            for item in open_frames(url, self._options, self._stop, keeps=self._processor):
                if self._stop.is_set():
                    return "stopped"
                self._handle(item)
        except SourceError as error:
            return self._safe(str(error))
        except (av.error.FFmpegError, OSError) as error:
            message = self._safe(f"{type(error).__name__}: {error}")
            if self._frames_seen == frames_before and self._timed_out(started):
                return f"no answer within {time.monotonic() - started:.0f} s ({message})"
            return message
        except Exception as error:
            log.exception("camera %s: unexpected error", self.spec.id, exc_info=False)
            return self._safe(f"unexpected {type(error).__name__}: {error}")
        return "stream ended"

    def _timed_out(self, started: float) -> bool:
        """FFmpeg reports a silent peer as invalid data; the elapsed time tells the truth."""
        return time.monotonic() - started >= 0.9 * self.spec.connect_timeout_s

    def _handle(self, item: SourceFrame) -> None:
        self._frames_seen += 1
        self.health.frame_decoded(time.time(), item.source_frames)
        self._backoff.reset()
        record = self._processor.process(item)
        if record is not None:
            self._sink.offer(record)

    def _safe(self, message: str) -> str:
        return redact(message, self._secrets)
