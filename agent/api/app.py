"""The FastAPI application: built from typed state, JSON errors, closed CORS by default.

It also serves the dashboard (``agent.dashboard``) at ``/``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from agent.api.errors import install_error_handlers
from agent.api.routes import (
    alerts,
    ask,
    cameras,
    events,
    metrics,
    mqtt,
    probes,
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
)


def create_app(state: ApiState) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, ApiState]]:
        yield {"vigil": state}

    app = FastAPI(
        title="Vigil",
        version="1",
        summary="Real-time video analytics: cameras, rules, alerts, ask, webhooks.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
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
