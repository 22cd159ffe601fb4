"""Serving the API with uvicorn inside an event loop that runs other parts too."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Generator

import uvicorn

from agent.api.app import create_app
from agent.api.state import ApiState

log = logging.getLogger(__name__)


class _EmbeddedServer(uvicorn.Server):
    """Leaves signals to the process (Vigil's stop event) instead of taking them over."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def build_server(state: ApiState) -> uvicorn.Server:
    api = state.api
    config = uvicorn.Config(
        create_app(state),
        host=api.host,
        port=api.port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=int(max(1, api.shutdown_grace_s)),
        server_header=False,
    )
    return _EmbeddedServer(config)


async def serve_api(state: ApiState, stop: asyncio.Event) -> None:
    """Serves until ``stop`` is set, then closes connections within the grace period."""
    server = build_server(state)
    task = asyncio.create_task(server.serve(), name="api")
    log.info("API on http://%s:%d", state.api.host, state.api.port)
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    stopping.cancel()
    await task
