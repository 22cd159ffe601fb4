"""Starts and stops the test WHEP endpoint (tests/servers/whep_server.py) for tests."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).with_name("whep_server.py")


class WhepServer:
    def __init__(self, port: int) -> None:
        self.port = port
        self._process: subprocess.Popen[str] | None = None

    def url(self, path: str = "/h264", userinfo: str = "", query: str = "") -> str:
        at = f"{userinfo}@" if userinfo else ""
        return f"whep://{at}127.0.0.1:{self.port}{path}" + (f"?{query}" if query else "")

    def start(self) -> WhepServer:
        self._process = subprocess.Popen(
            [sys.executable, str(SCRIPT), str(self.port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline().strip()
        if line != "ready":
            self.kill()
            raise RuntimeError(f"WHEP server failed to start on port {self.port}: {line!r}")
        return self

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/stats", timeout=5) as reply:
            return json.loads(reply.read())  # type: ignore[no-any-return]

    def kill(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None
