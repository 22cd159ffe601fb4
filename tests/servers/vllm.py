"""Starts and stops real vLLM OpenAI-compatible servers (CPU build, tiny model) for tests."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

SERVED_NAME = "vigil-tiny"
READY_TIMEOUT_S = 240.0


def server_command(model_dir: Path, port: int, stats: bool = False) -> list[str]:
    """The flags Vigil's servers run with; ``stats`` fills the Prometheus gauges of /metrics."""
    command = [
        sys.executable, "-m", "vllm.entrypoints.openai.api_server",
        "--model", str(model_dir), "--served-model-name", SERVED_NAME,
        "--dtype", "bfloat16", "--enforce-eager", "--max-model-len", "8192",
        "--gpu-memory-utilization", "0.1", "--max-num-seqs", "16",
        "--limit-mm-per-prompt", '{"image": 0, "video": 1}',
        "--structured-outputs-config", '{"backend": "xgrammar", "disable_any_whitespace": true}',
        "--trust-request-mm-kwargs", "--media-io-kwargs", '{"video": {"num_frames": -1}}',
        "--host", "127.0.0.1", "--port", str(port), "--seed", "7",
    ]  # fmt: skip
    return command if stats else [*command, "--disable-log-stats"]


class VllmServer:
    """One server process and the engine processes it spawns, in a process group of their own."""

    def __init__(self, model_dir: Path, port: int, log_path: Path, stats: bool = False) -> None:
        self.model_dir = model_dir
        self.stats = stats
        self.port = port
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> VllmServer:
        """Starts loading; ``wait_ready`` tells when it answers."""
        env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1"}
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                server_command(self.model_dir, self.port, self.stats),
                stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
            )  # fmt: skip
        return self

    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S) -> str:
        """The base URL (``…/v1``) once /health answers; RuntimeError with the log if not."""
        assert self._process is not None, "start() first"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"vLLM server exited: {self.log_tail()}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=1.0).is_success:
                    return self.base_url
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"vLLM server not ready in {timeout_s:.0f} s: {self.log_tail()}")

    def requests_running(self) -> float:
        """The gauge of requests the engine works on now (needs ``stats``)."""
        try:
            metrics = httpx.get(f"http://127.0.0.1:{self.port}/metrics", timeout=2.0).text
        except httpx.HTTPError:
            return 0.0
        running = re.search(r"^vllm:num_requests_running(?:\{[^}]*\})? (\S+)$", metrics, re.M)
        return float(running.group(1)) if running else 0.0

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def kill(self) -> None:
        """Dies at once, as a crashed host would: SIGKILL to the whole group."""
        if self._process is not None:
            _kill_group(self._process.pid, self._process)
            self._process = None

    def stop(self) -> None:
        """SIGTERM, then SIGKILL for whatever is left: none may outlive the session."""
        if self._process is None:
            return
        process, self._process = self._process, None
        group = process.pid  # start_new_session: the server leads its group
        if _group_alive(group):
            os.killpg(group, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(30)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _group_alive(group):
            time.sleep(0.2)
        _kill_group(group, process)


def _kill_group(group: int, process: subprocess.Popen[bytes]) -> None:
    if _group_alive(group):
        os.killpg(group, signal.SIGKILL)
    process.wait()


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True
