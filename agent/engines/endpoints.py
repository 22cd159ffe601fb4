"""A list of OpenAI-compatible base URLs, balanced by outstanding requests.

An endpoint that fails (connection error, timeout, 5xx) is skipped for a while; a health
check (``GET {base}/models``) brings it back. When every endpoint is marked unhealthy the
one that failed longest ago is tried anyway: a stale mark must not stop all traffic.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Endpoint:
    base_url: str
    outstanding: int = 0
    unhealthy_until: float = 0.0  # monotonic seconds
    failures: int = 0
    context_tokens: int | None = None  # the model's context, as the server reports it

    def healthy(self, now: float) -> bool:
        return now >= self.unhealthy_until


class EndpointPool:
    def __init__(
        self,
        base_urls: list[str],
        unhealthy_for_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not base_urls:
            raise ValueError("at least one base URL is needed")
        self.endpoints = [Endpoint(url.rstrip("/")) for url in base_urls]
        self._unhealthy_for_s = unhealthy_for_s
        self._clock = clock

    def pick(self, avoid: frozenset[str] = frozenset()) -> Endpoint:
        """The healthy endpoint with the fewest requests in flight, preferring unavoided ones."""
        now = self._clock()
        candidates = [e for e in self.endpoints if e.base_url not in avoid] or self.endpoints
        healthy = [e for e in candidates if e.healthy(now)]
        if healthy:
            return min(healthy, key=lambda e: e.outstanding)
        return min(candidates, key=lambda e: e.unhealthy_until)

    def mark_failed(self, endpoint: Endpoint, reason: str = "health check failed") -> None:
        if endpoint.failures == 0:
            log.warning(
                "engine endpoint %s taken out (%s); rechecked every %.0f s",
                endpoint.base_url, reason, self._unhealthy_for_s,
            )  # fmt: skip
        endpoint.failures += 1
        endpoint.unhealthy_until = self._clock() + self._unhealthy_for_s

    def mark_healthy(self, endpoint: Endpoint) -> None:
        if endpoint.failures:
            log.info("engine endpoint %s is back in", endpoint.base_url)
        endpoint.failures = 0
        endpoint.unhealthy_until = 0.0

    def unhealthy(self) -> list[Endpoint]:
        now = self._clock()
        return [e for e in self.endpoints if not e.healthy(now)]

    def any_healthy(self, avoid: frozenset[str] = frozenset()) -> bool:
        now = self._clock()
        return any(e.healthy(now) and e.base_url not in avoid for e in self.endpoints)
