"""How a long-running loop says it went round, for whoever watches the process's liveness.

Each loop calls ``progress(name)`` once a round (and once when it starts); a heartbeat
(``agent/runtime/liveness.py``) turns the calls into a file a probe reads. A loop nobody
watches gets ``no_progress``.
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str], None]


def no_progress(loop: str) -> None:
    """Progress for loops nobody watches (tests, benchmarks, embedded use)."""
