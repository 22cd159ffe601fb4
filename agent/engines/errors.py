"""What can go wrong between Vigil and an engine, as types a caller can act on."""

from __future__ import annotations

import re

# vLLM's words for a request over the context: the server's 400 ("This model's maximum
# context length is 8192 tokens. However, …") and the in-process engine's ValueError
# ("The decoder prompt (length 9000) is longer than the maximum model length of 8192").
_OVER_CONTEXT = re.compile(r"maximum (?:context|model) length(?: is| of)? (\d+)?", re.I)


class EngineError(RuntimeError):
    """The engine could not produce an answer; the message says why (never a secret)."""


class EngineUnavailableError(EngineError):
    """No endpoint could be reached (connection refused, reset, DNS) within the retries."""


class EngineTimeoutError(EngineError):
    """The endpoint accepted the request but did not answer within the timeout."""


class EngineOverloadedError(EngineError):
    """The endpoints kept answering 429 or 5xx until the retries ran out."""


class EngineRequestError(EngineError):
    """The endpoint refused the request (4xx other than 429): retrying will not help."""


class EngineResponseError(EngineError):
    """The endpoint answered 200 with a body that is not a chat completion."""


class EngineContextError(EngineRequestError):
    """The prompt and the tokens kept for the answer exceed the model's context: the same
    request fails every time, so it is the caller's to shorten (a 4xx, never a retry)."""


def context_overflow(message: str) -> tuple[bool, int | None]:
    """Whether an engine's error message says the request exceeds the context, and the
    context length it names, if any."""
    found = _OVER_CONTEXT.search(message)
    if found is None:
        return False, None
    return True, int(found.group(1)) if found.group(1) else None
