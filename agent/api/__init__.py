"""Vigil's HTTP API: cameras, rules, alerts, ask, webhooks, live events and metrics.

``agent.api.app.create_app`` builds the application from typed state; ``agent.api.server``
serves it with uvicorn inside a running event loop.
"""
