"""The FastAPI application: built from typed state, JSON errors, closed CORS by default,
request bodies bounded before any route reads them, and the caps on concurrent work.

It also serves the dashboard (``agent.dashboard``) at ``/``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from agent.api.body_limit import BodyLimitMiddleware
from agent.api.errors import install_error_handlers
from agent.api.limits import ApiLimits
from agent.api.routes import (
    alerts,
    ask,
    cameras,
    events,
    feedback,
    metrics,
    mqtt,
    probes,
    reports,
    rules,
    search,
)
from agent.api.routes import webhooks as webhook_routes
from agent.api.state import ApiState
from agent.dashboard.routes import dashboard_router

ROUTERS = (
    probes.router,
    cameras.router,
    rules.router,
    alerts.router,
    ask.router,
    events.router,
    webhook_routes.router,
    metrics.router,
    mqtt.router,
    search.router,
    reports.router,
    feedback.router,
)


def create_app(state: ApiState) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, ApiState | ApiLimits]]:
        yield {"vigil": state, "limits": ApiLimits.of(state.api)}

    app = FastAPI(
        title="Vigil",
        version="1",
        summary="Real-time video analytics: cameras, rules, alerts, ask, webhooks.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    # Added before CORS, so it runs inside it: a 413 carries the CORS headers too.
    app.add_middleware(
        BodyLimitMiddleware,
        default_bytes=state.api.max_body_bytes,
        by_prefix=state.api.body_limits,
    )
    origins = state.api.cors_origins
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Last-Event-ID"],
        )
    for router in ROUTERS:
        app.include_router(router)
    app.include_router(dashboard_router())
    return app
