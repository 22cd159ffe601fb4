"""What can go wrong between Vigil and an engine, as types a caller can act on."""

from __future__ import annotations


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
