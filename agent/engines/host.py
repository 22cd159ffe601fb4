"""Which model this host can run: the configured one, or the test model without a GPU."""

from __future__ import annotations

import logging
from pathlib import Path

from agent.engines.settings import DEFAULT_MODEL, EngineSettings
from agent.engines.testmodel import build_test_model

log = logging.getLogger(__name__)

BANNER = (
    "\n"
    "  ************************************************************************\n"
    "  *  NO GPU: Vigil runs a TINY RANDOM-WEIGHT TEST MODEL on the CPU.      *\n"
    "  *  The whole pipeline is real, but its answers and alerts are NOISE.   *\n"
    "  *  On a GPU host it runs nvidia/Cosmos-Reason1-7B.                     *\n"
    "  ************************************************************************"
)


def has_gpu() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def engine_for_host(
    settings: EngineSettings, data_dir: Path, gpu: bool | None = None
) -> EngineSettings:
    """The settings to start: unchanged, except the default model on a host without a GPU."""
    if settings.kind != "vllm" or settings.model != DEFAULT_MODEL:
        return settings
    if has_gpu() if gpu is None else gpu:
        return settings
    log.warning("%s", BANNER)
    return test_model_settings(settings, data_dir)


def test_model_settings(settings: EngineSettings, data_dir: Path) -> EngineSettings:
    """The in-process engine on the tiny random-weight model, sized for a CPU: little
    memory, no graphs, short reasoning."""
    model = build_test_model(data_dir / "models")
    overrides = {
        "kind": "vllm", "model": str(model), "served_model_name": None, "enforce_eager": True,
        "gpu_memory_utilization": 0.1, "max_model_len": 8192, "dtype": "bfloat16",
        "max_concurrency": min(settings.max_concurrency, 8),
        "reasoning_max_tokens": min(settings.reasoning_max_tokens, 256),
    }  # fmt: skip
    return EngineSettings.model_validate({**settings.model_dump(), **overrides})
