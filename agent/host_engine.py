"""Which model this host can run: the configured one, or the test model without a GPU."""

from __future__ import annotations

import logging
from pathlib import Path

from agent.engines.settings import DEFAULT_MODEL, EngineSettings
from agent.testmodel import build_test_model

log = logging.getLogger(__name__)

BANNER = (
    "\n"
    "  ************************************************************************\n"
    "  *  NO GPU: Vigil runs a TINY RANDOM-WEIGHT TEST MODEL on the CPU.      *\n"
    "  *  The whole pipeline is real, but its answers and alerts are NOISE.   *\n"
    "  *  On a GPU host it runs nvidia/Cosmos-Reason1-7B.                     *\n"
    "  ************************************************************************"
)

# What the tiny model needs on a CPU (see the engine tests): little memory, no graphs.
CPU_TEST_MODEL = {
    "max_model_len": 8192,
    "gpu_memory_utilization": 0.1,
    "enforce_eager": True,
    "max_concurrency": 8,
    "reasoning_max_tokens": 256,
}


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
    model_dir = build_test_model(data_dir / "models")
    log.warning("%s", BANNER)
    return settings.model_copy(update={"model": str(model_dir), **CPU_TEST_MODEL})
