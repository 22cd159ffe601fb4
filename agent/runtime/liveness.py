"""Liveness of the roles without HTTP (ingest, scheduler, worker, dispatcher): a heartbeat file.

Every loop of a role reports its rounds (``agent/pipeline/progress.py``); a thread writes,
every ``WRITE_PERIOD_S``, the wall time of the round of the loop that went round *least*
recently into ``<data_dir>/alive/<role>``. The file's time therefore stops advancing when
any loop stops going round (an await that never returns) and when the whole event loop is
wedged (a blocking call on it): none of its loops goes round. A probe runs

    python -m agent.runtime.liveness /var/lib/vigil/alive/worker 60

which exits 1 when the time in the file is older than 60 s or the file is missing or
garbled, 0 otherwise; Kubernetes restarts the container, compose marks it unhealthy.
The process's supervisor is watched too: each part that is down (crashed, waiting to
restart) or not going round is written on a line of its own after the time, ``part: why``,
and the probe exits 1 naming it.
The probe imports nothing but this module, so it costs a fraction of a second.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

ALIVE_DIR = "alive"
WRITE_PERIOD_S = 2.0
PROBE_MAX_AGE_S = 60.0

Clock = Callable[[], float]
Unhealthy = Callable[[], Mapping[str, str]]


def _none_unhealthy() -> Mapping[str, str]:
    return {}


def heartbeat_file(data_dir: Path, role: str) -> Path:
    return data_dir / ALIVE_DIR / role


class Heartbeat:
    """The rounds of one process's loops, written to its heartbeat file."""

    def __init__(self, path: Path, clock: Clock = time.time) -> None:
        self.path = path
        self._clock = clock
        self._rounds: dict[str, float] = {}
        self._lock = threading.Lock()
        self._unhealthy: Unhealthy = _none_unhealthy

    def watch(self, unhealthy: Unhealthy) -> None:
        """Writes the parts ``unhealthy`` names (part -> why) beside the time."""
        self._unhealthy = unhealthy

    def went_round(self, loop: str) -> None:
        """A ``Progress``: ``loop`` completed a round (its first call registers it)."""
        with self._lock:
            self._rounds[loop] = self._clock()

    def stalest_round(self) -> float | None:
        """When the loop that went round least recently last did; None before any did."""
        with self._lock:
            return min(self._rounds.values(), default=None)

    def write(self) -> None:
        """Replaces the file atomically, so a probe never reads half of it."""
        stalest = self.stalest_round()
        if stalest is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        parts = "".join(f"{part}: {_one_line(why)}\n" for part, why in self._unhealthy().items())
        partial.write_text(f"{stalest:.3f}\n{parts}")
        partial.replace(self.path)


@contextmanager
def heartbeat_written(
    path: Path, period_s: float = WRITE_PERIOD_S, clock: Clock = time.time
) -> Iterator[Heartbeat]:
    """A heartbeat whose file a thread keeps writing while the block runs."""
    heartbeat = Heartbeat(path, clock)
    done = threading.Event()

    def keep_writing() -> None:
        while not done.wait(period_s):
            try:
                heartbeat.write()
            except OSError as error:  # a full or read-only disk must not stop the role
                print(f"vigil: cannot write {path}: {error}", file=sys.stderr)

    writer = threading.Thread(target=keep_writing, name="vigil-heartbeat", daemon=True)
    writer.start()
    try:
        yield heartbeat
    finally:
        done.set()
        writer.join()


def _one_line(text: str) -> str:
    return " ".join(text.split())


def read_heartbeat(path: Path, now: float) -> tuple[float, list[str]] | None:
    """Seconds since the stalest loop of the role went round, and the unhealthy parts'
    lines; None when unreadable."""
    try:
        first, *parts = path.read_text().splitlines()
        return now - float(first), parts
    except (OSError, ValueError):
        return None


def probe(path: Path, max_age_s: float, now: float) -> tuple[bool, str]:
    read = read_heartbeat(path, now)
    if read is None:
        return False, f"not alive: no heartbeat in {path}"
    age, parts = read
    if parts:
        return False, "not alive: " + "; ".join(parts)
    if age > max_age_s:
        return False, f"not alive: its loops last went round {age:.1f} s ago (> {max_age_s:g} s)"
    return True, f"alive: its loops went round {max(age, 0.0):.1f} s ago"


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m agent.runtime.liveness HEARTBEAT_FILE MAX_AGE_S", file=sys.stderr)
        return 2
    alive, message = probe(Path(argv[0]), float(argv[1]), time.time())
    print(message)
    return 0 if alive else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
