"""Whether the engine this API was given can take a request now, and which parts of the
process that serves it are unhealthy."""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from agent.engines import Engine

log = logging.getLogger(__name__)
CHECK_TIMEOUT_S = 3.0


class PartsHealth(Protocol):
    """The parts of the process (its supervisor): those that are down or stuck."""

    def unhealthy(self) -> dict[str, str]:
        """Part -> why it is unhealthy; empty when every part is up and going round."""
        ...


def unhealthy_parts(parts: PartsHealth | None) -> dict[str, str]:
    return {} if parts is None else parts.unhealthy()


async def engine_ready(engine: Engine) -> bool:
    """HTTP engines are asked (any healthy endpoint will do); in-process ones are up if here."""
    check = getattr(engine, "check_health", None)
    if check is None:
        return True
    try:
        health = await asyncio.wait_for(check(), CHECK_TIMEOUT_S)
    except (TimeoutError, OSError) as error:
        log.warning("engine health check failed: %s", error)
        return False
    return any(bool(ok) for ok in dict(health).values())
