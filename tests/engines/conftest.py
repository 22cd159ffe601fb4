"""Fixtures for the engine tests: the tiny model, frames, and the real engines.

The in-process vLLM engine and the OpenAI-compatible server subprocess are each started
once per session (~30 s apiece on 2 cores); the server starts loading as soon as the
model directory exists, so the two loads overlap.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from agent.engines.local import LocalEngine
from agent.engines.settings import EngineSettings
from agent.engines.tokens import TokenizerFile
from tests.engines.frames import MakeRecords, free_port, make_frame_records
from tests.servers.vllm import VllmServer


@pytest.fixture(scope="session")
def make_records() -> MakeRecords:
    return make_frame_records


def engine_settings(model_dir: Path, **overrides: object) -> EngineSettings:
    values: dict[str, object] = {
        "model": str(model_dir),
        "max_model_len": 8192,
        "gpu_memory_utilization": 0.1,
        "enforce_eager": True,
        "max_concurrency": 16,
        "reasoning_max_tokens": 96,
        "seed": 7,
    }
    return EngineSettings.model_validate({**values, **overrides})


@pytest.fixture(scope="session")
def server_process(
    model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[VllmServer]:
    """The server, started but maybe not ready yet (see ``vllm_server``)."""
    log_path = tmp_path_factory.mktemp("server") / "vllm-server.log"
    server = VllmServer(model_dir, free_port(), log_path).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def vllm_server(server_process: VllmServer) -> str:
    """Base URL (``…/v1``) of the real OpenAI-compatible vLLM server, once it answers."""
    try:
        return server_process.wait_ready()
    except RuntimeError as error:
        pytest.fail(str(error))


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def local_engine(model_dir: Path, server_process: VllmServer) -> AsyncIterator[LocalEngine]:
    """The in-process engine; asks for the server process so both load at once."""
    engine = LocalEngine.start(engine_settings(model_dir))
    yield engine
    await engine.close()


@pytest.fixture(scope="session")
def model_dir_tokenizer(model_dir: Path) -> TokenizerFile:
    """The tiny model's own tokenizer, as an HTTP engine loads it from ``engine.tokenizer``."""
    return TokenizerFile.load(str(model_dir))
