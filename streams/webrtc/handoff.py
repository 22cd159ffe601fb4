"""A bounded hand-off from a source's own thread to the camera reader's thread.

Live sources that push frames (WebRTC) must never wait for the reader: the producer
puts without blocking, the oldest frames give way when the reader falls behind (and are
counted), so memory and latency stay bounded by the capacity. The producer ends the
hand-off with an error; the reader sees it once it has taken what was already there.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class HandoffClosedError(Exception):
    """The producer ended the hand-off; the message says why and is safe to log."""


class Handoff(Generic[T]):
    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("a hand-off needs room for at least one item")
        self._items: deque[T] = deque(maxlen=capacity)
        self._ready = threading.Condition()
        self._error: str | None = None
        self._dropped = 0

    def put(self, item: T) -> None:
        """Never blocks; when full, the oldest item is dropped and counted."""
        with self._ready:
            if self._error is not None:
                return
            if len(self._items) == self._items.maxlen:
                self._dropped += 1
            self._items.append(item)
            self._ready.notify()

    def close(self, error: str) -> None:
        """Ends the hand-off; the first reason given is the one the reader sees."""
        with self._ready:
            if self._error is None:
                self._error = error
            self._ready.notify_all()

    def get(self, timeout_s: float) -> T | None:
        """The oldest item; None after ``timeout_s`` without one; HandoffClosedError once ended."""
        with self._ready:
            if not self._ready.wait_for(self._has_news, timeout_s):
                return None
            if self._items:
                return self._items.popleft()
            raise HandoffClosedError(self._error)

    def take_dropped(self) -> int:
        """Items dropped since the last call."""
        with self._ready:
            dropped, self._dropped = self._dropped, 0
            return dropped

    def __len__(self) -> int:
        with self._ready:
            return len(self._items)

    def _has_news(self) -> bool:
        return bool(self._items) or self._error is not None
