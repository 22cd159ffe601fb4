"""A private ``redis-server`` for one machine, started when no Redis URL is configured.

It listens on a unix socket only, keeps an append-only file in its data directory (so a
restart keeps alerts and config), and is reused if one is already serving that socket.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from types import TracebackType

import redis

STARTUP_TIMEOUT_S = 10.0


class EmbeddedRedisError(RuntimeError):
    pass


class EmbeddedRedis:
    def __init__(self, data_dir: Path, append_only: bool = True) -> None:
        self.data_dir = data_dir.resolve()
        self.socket_path = self.data_dir / "redis.sock"
        self._append_only = append_only
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "redis.log"

    @property
    def pid(self) -> int:
        """The server's process id (only for a server this object started)."""
        if self._process is None:
            raise EmbeddedRedisError("this redis-server was not started here")
        return self._process.pid

    def start(self) -> EmbeddedRedis:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._answers():
            return self
        server = shutil.which("redis-server")
        if server is None:
            raise EmbeddedRedisError("redis-server is not installed (apt-get install redis-server)")
        self.socket_path.unlink(missing_ok=True)
        self._process = subprocess.Popen(
            self._command(server),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # Its own session: a Ctrl-C in the terminal must not kill the server under
            # the components that are still flushing to it; stop() ends it last.
            start_new_session=True,
        )
        self._wait_until_ready()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def kill(self) -> None:
        """Ends the server at once, as a crash would (for fault tests)."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _command(self, server: str) -> list[str]:
        return [
            server,
            "--port",
            "0",
            "--unixsocket",
            str(self.socket_path),
            "--unixsocketperm",
            "700",
            "--dir",
            str(self.data_dir),
            "--save",
            "",
            "--appendonly",
            "yes" if self._append_only else "no",
            "--appendfsync",
            "everysec",
            "--loglevel",
            "warning",
            "--logfile",
            str(self.log_path),
        ]

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                log = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
                raise EmbeddedRedisError(f"redis-server exited at start: {log.strip()[-500:]}")
            if self._answers():
                return
            time.sleep(0.02)
        self.stop()
        raise EmbeddedRedisError(f"redis-server did not answer within {STARTUP_TIMEOUT_S:.0f} s")

    def _answers(self) -> bool:
        if not self.socket_path.exists():
            return False
        try:
            client = redis.Redis(unix_socket_path=str(self.socket_path), socket_timeout=1.0)
            with client:
                return bool(client.ping())
        except (redis.ConnectionError, redis.TimeoutError):
            return False
