"""`vigil up` as a new user runs it: an embedded Redis, the demo camera, the test model on
the CPU. The first lines say where the dashboard is and give a key that signs in; vLLM's
INFO chatter stays out of the way."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import yaml

from tests.conftest import free_port

TOKEN = re.compile(r"^\s+(vk_\S+)$")
VLLM_INFO = re.compile(r"^INFO \d\d-\d\d |INFO\s+vllm")


def test_a_first_vigil_up_prints_a_key_that_signs_in_and_vllm_stays_quiet(
    tmp_path: Path, model_dir: Path
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "models").symlink_to(model_dir.parent)  # the suite's built test model
    port = free_port()
    config = tmp_path / "vigil.yaml"
    config.write_text(yaml.safe_dump({"data_dir": str(data_dir), "api": {"port": port}}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("VLLM_LOGGING")}
    vigil = Path(sys.executable).with_name("vigil")
    process = subprocess.Popen(
        [str(vigil), "up", "-c", str(config)], stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout or []), daemon=True)
    reader.start()
    try:
        token = _wait_for_token(lines)
        assert f"Vigil dashboard: http://127.0.0.1:{port}/\n" in lines
        answer = _wait_for_api(f"http://127.0.0.1:{port}/v1/cameras", token)
        assert [camera["id"] for camera in answer.json()] == ["demo"]
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
        reader.join(timeout=5)
    assert not [line for line in lines if VLLM_INFO.search(line)]
    assert sum(bool(TOKEN.match(line)) for line in lines) == 1  # printed once


def _wait_for_token(lines: list[str]) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for line in list(lines):
            if match := TOKEN.match(line.rstrip("\n")):
                return match.group(1)
        time.sleep(0.2)
    raise AssertionError(f"no first-start key printed:\n{''.join(lines)}")


def _wait_for_api(url: str, token: str) -> httpx.Response:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            answer = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=5)
            assert answer.status_code == 200, answer.text
            return answer
        except httpx.TransportError:
            time.sleep(0.5)
    raise AssertionError("the API never came up")
