"""Fixtures for the engine tests: the tiny model, frames, and the real engines.

The in-process vLLM engine and the OpenAI-compatible server subprocess are each started
once per session (~30 s apiece on 2 cores); the server starts loading as soon as the
model directory exists, so the two loads overlap.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from agent.engines.local import LocalEngine
from agent.engines.settings import EngineSettings
from agent.testmodel import build_test_model
from tests.engine.frames import MakeRecords, free_port, make_frame_records

SERVED_NAME = "vigil-tiny"
SERVER_READY_S = 240.0


@pytest.fixture(scope="session")
def make_records() -> MakeRecords:
    return make_frame_records


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_test_model(tmp_path_factory.mktemp("models"))


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


def server_command(model_dir: Path, port: int) -> list[str]:
    return [
        sys.executable, "-m", "vllm.entrypoints.openai.api_server",
        "--model", str(model_dir), "--served-model-name", SERVED_NAME,
        "--dtype", "bfloat16", "--enforce-eager", "--max-model-len", "8192",
        "--gpu-memory-utilization", "0.1", "--max-num-seqs", "16",
        "--limit-mm-per-prompt", '{"image": 0, "video": 1}',
        "--structured-outputs-config", '{"backend": "xgrammar", "disable_any_whitespace": true}',
        "--trust-request-mm-kwargs", "--media-io-kwargs", '{"video": {"num_frames": -1}}',
        "--host", "127.0.0.1", "--port", str(port), "--disable-log-stats", "--seed", "7",
    ]  # fmt: skip


@pytest.fixture(scope="session")
def server_process(
    model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    """The server process, started but maybe not ready yet (see ``vllm_server``)."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("server") / "vllm-server.log"
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1"}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            server_command(model_dir, port),
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )  # fmt: skip
    yield process, f"http://127.0.0.1:{port}", log_path
    stop_process_group(process)


def stop_process_group(process: subprocess.Popen[bytes]) -> None:
    """The server and the engine processes it spawned: none may outlive the session."""
    group = os.getpgid(process.pid)
    os.killpg(group, signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _group_alive(group):
        time.sleep(0.2)
    if _group_alive(group):
        os.killpg(group, signal.SIGKILL)


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="session")
def vllm_server(server_process: tuple[subprocess.Popen[bytes], str, Path]) -> str:
    """Base URL (``…/v1``) of the real OpenAI-compatible vLLM server, once it answers."""
    process, root, log_path = server_process
    deadline = time.monotonic() + SERVER_READY_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"vLLM server exited: {log_path.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(f"{root}/health", timeout=1.0).status_code == 200:
                return f"{root}/v1"
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"vLLM server not ready in {SERVER_READY_S:.0f} s")


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def local_engine(
    model_dir: Path, server_process: tuple[subprocess.Popen[bytes], str, Path]
) -> AsyncIterator[LocalEngine]:
    """The in-process engine; asks for the server process so both load at once."""
    engine = LocalEngine.start(engine_settings(model_dir))
    yield engine
    await engine.close()
