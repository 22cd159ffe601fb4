"""The engine named by the settings, started and ready for requests."""

from __future__ import annotations

from agent.engines import Engine
from agent.engines.settings import EngineSettings


def start_engine(settings: EngineSettings) -> Engine:
    """In-process vLLM (loads the model) or the HTTP client (call from a running loop)."""
    if settings.kind == "vllm":
        from agent.engines.local import LocalEngine

        return LocalEngine.start(settings)
    from agent.engines.openai_http import OpenAIHttpEngine

    engine = OpenAIHttpEngine(settings)
    engine.start_health_checks()
    return engine
