"""Starts and stops the real RTSP server (tests/servers/rtsp_server.py) for tests."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).with_name("rtsp_server.py")
SYSTEM_PYTHON = "/usr/bin/python3"
READY_TIMEOUT_S = 20.0


class RtspServer:
    def __init__(
        self, port: int, mounts: tuple[str, ...] = ("/live",), size: str = "640x360", fps: int = 30
    ) -> None:
        self.port = port
        self.mounts = mounts
        self.size = size
        self.fps = fps
        self._process: subprocess.Popen[str] | None = None

    def url(self, mount: str = "/live", userinfo: str = "") -> str:
        at = f"{userinfo}@" if userinfo else ""
        return f"rtsp://{at}127.0.0.1:{self.port}{mount}"

    def start(self) -> RtspServer:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        self._process = subprocess.Popen(
            [SYSTEM_PYTHON, str(SCRIPT), str(self.port), self.size, str(self.fps), *self.mounts],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline().strip()
        if line != "ready":
            self.kill()
            raise RuntimeError(f"RTSP server failed to start on port {self.port}: {line!r}")
        return self

    def kill(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None
