"""Work the API takes on at once: live feeds and questions (ask, search), per API key and
in all, and clip encodes.

A request over a cap is refused at once with 429 and a Retry-After, never queued: a
queue of encodes or of feeds would only move the overload into memory. The counts live
in the API's process, created at start-up with the application.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from fastapi import HTTPException

from agent.api.settings import ApiSettings

FEED_RETRY_AFTER_S = 30  # a feed stays open for long: come back later
ENCODE_RETRY_AFTER_S = 5  # an encode takes seconds
QUESTION_RETRY_AFTER_S = 5  # a search takes a second, a question to the engine seconds


class Slots:
    """At most ``total`` holders at once, at most ``per_owner`` of them one owner's."""

    def __init__(self, total: int, per_owner: int | None = None) -> None:
        self.total = total
        self.per_owner = total if per_owner is None else per_owner
        self._held: Counter[str] = Counter()

    def take(self, owner: str = "") -> bool:
        """Takes a slot for ``owner``; False (and nothing taken) when a cap is reached."""
        if self.held() >= self.total or self._held[owner] >= self.per_owner:
            return False
        self._held[owner] += 1
        return True

    def give_back(self, owner: str = "") -> None:
        self._held[owner] -= 1
        if self._held[owner] <= 0:
            del self._held[owner]

    def held(self, owner: str | None = None) -> int:
        return self._held.total() if owner is None else self._held[owner]


@dataclass(frozen=True, slots=True)
class ApiLimits:
    feeds: Slots  # /v1/events streams, owned by API key id
    encodes: Slots  # clip.mp4 and evidence.mp4 being encoded
    questions: Slots  # /v1/ask and /v1/search being answered, owned by API key id

    @classmethod
    def of(cls, api: ApiSettings) -> ApiLimits:
        return cls(
            feeds=Slots(api.sse_max_total, api.sse_max_per_key),
            encodes=Slots(api.encodes_max),
            questions=Slots(api.questions_max, api.questions_max_per_key),
        )


def too_busy(detail: str, retry_after_s: int) -> HTTPException:
    return HTTPException(429, detail, {"Retry-After": str(retry_after_s)})
