"""Logging set-up: one line per event, with URL passwords masked in every record."""

from __future__ import annotations

import logging
import os

from streams.urls import redact


class RedactingFilter(logging.Filter):
    """Masks URL passwords in the final message of every record that passes a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # One INFO line per HTTP request (engine health checks every few seconds) drowns
    # what operators need; httpx's warnings and errors still pass.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))


def quiet_engine_logs() -> None:
    """vLLM's and torch's start-up lines at warnings only: under ``vigil up`` they would
    bury the few lines an operator needs. The environment reaches vLLM's worker
    processes too; an explicit ``VLLM_LOGGING_LEVEL`` wins."""
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
    for name in ("vllm", "torch", "transformers"):
        logging.getLogger(name).setLevel(logging.WARNING)
