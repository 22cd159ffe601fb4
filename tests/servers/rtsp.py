"""Starts and stops the real RTSP server (tests/servers/rtsp_server.py) for tests."""

from __future__ import annotations

import os
import subprocess
import threading
from collections import Counter
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
        self._lock = threading.Lock()
        self._playing: dict[str, str] = {}  # client -> mount
        self.most_readers: Counter[str] = Counter()  # mount -> most clients playing at once

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
        with self._lock:
            self._playing.clear()
        threading.Thread(target=self._follow, args=(self._process,), daemon=True).start()
        return self

    def readers(self, mount: str) -> int:
        """Clients playing the mount now."""
        with self._lock:
            return self._count_playing(mount)

    def _follow(self, process: subprocess.Popen[str]) -> None:
        """Keeps count of the clients playing each mount, from the server's event lines."""
        assert process.stdout is not None
        for line in process.stdout:
            event, client, *mount = line.split()
            with self._lock:
                if event == "play":
                    self._playing[client] = mount[0]
                    now = self._count_playing(mount[0])
                    self.most_readers[mount[0]] = max(self.most_readers[mount[0]], now)
                else:
                    self._playing.pop(client, None)

    def _count_playing(self, mount: str) -> int:
        return sum(playing == mount for playing in self._playing.values())

    def kill(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None
