"""The soak's S3-compatible object store: moto's server in a process of its own.

The store's contents live in the process (moto's backends), so taking it *down* closes
only its listening socket: requests are refused until it is brought *up* again on the
same port, with every bucket and object still there, as a restarted object store keeps
its disks. The bench drives it through the child's standard input, one word a line.

Run as ``python -m agent.bench.soak_store PORT BUCKET``.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

from pyarrow import fs

ACCESS_KEY_ID = "vigil-soak"
SECRET_ACCESS_KEY = "vigil-soak-secret"  # noqa: S105 (a private test store)
REGION = "us-east-1"
READY_TIMEOUT_S = 30.0
UP, DOWN, QUIT = "up", "down", "quit"


class StoreError(RuntimeError):
    pass


class SoakStore:
    """The bench's handle on the store process."""

    def __init__(self, port: int, bucket: str, log_path: Path) -> None:
        self.port = port
        self.bucket = bucket
        self._log_path = log_path
        self._process: subprocess.Popen[str] | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def start(self) -> SoakStore:
        command = [sys.executable, "-m", "agent.bench.soak_store", str(self.port), self.bucket]
        with self._log_path.open("ab") as log:
            self._process = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True
            )
        self._expect("ready")
        return self

    def down(self) -> None:
        self._command(DOWN)

    def up(self) -> None:
        self._command(UP)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        try:
            assert process.stdin is not None
            process.stdin.write(f"{QUIT}\n")
            process.stdin.flush()
            process.wait(10)
        except (OSError, subprocess.TimeoutExpired):
            process.kill()
            process.wait()

    def _command(self, word: str) -> None:
        if self._process is None or self._process.stdin is None:
            raise StoreError("the store is not running")
        self._process.stdin.write(f"{word}\n")
        self._process.stdin.flush()
        self._expect(word)

    def _expect(self, word: str) -> None:
        assert self._process is not None
        assert self._process.stdout is not None
        line = _read_line(self._process.stdout, READY_TIMEOUT_S)
        if line != word:
            raise StoreError(f"the store answered {line!r} instead of {word!r} ({self._log_path})")


def _read_line(stream: IO[str], timeout_s: float) -> str:
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout_s)
    return lines[0].strip() if lines else ""


class _Listener:
    """moto's WSGI app on the port; ``close`` frees the port, ``open`` takes it again."""

    def __init__(self, port: int) -> None:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            create_backend_app,
        )

        self._port = port
        self._app = DomainDispatcherApplication(create_backend_app)
        self._server: object | None = None
        self._thread: threading.Thread | None = None

    def open(self) -> None:
        from werkzeug.serving import make_server

        server = make_server("127.0.0.1", self._port, self._app, threaded=True)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        from werkzeug.serving import BaseWSGIServer

        server, self._server = self._server, None
        if isinstance(server, BaseWSGIServer):
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(10)


def _create_bucket(port: int, bucket: str) -> None:
    client = fs.S3FileSystem(
        access_key=ACCESS_KEY_ID,
        secret_key=SECRET_ACCESS_KEY,
        region=REGION,
        endpoint_override=f"127.0.0.1:{port}",
        scheme="http",
        allow_bucket_creation=True,
    )
    client.create_dir(bucket)


def _open_with_retries(listener: _Listener) -> None:
    """The port may still be held for a moment by connections of the previous listener."""
    for attempt in range(50):
        try:
            listener.open()
            return
        except OSError:
            time.sleep(0.1 * (attempt + 1))
    listener.open()


def main(port: int, bucket: str) -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request
    listener = _Listener(port)
    listener.open()
    _create_bucket(port, bucket)
    print("ready", flush=True)
    for line in sys.stdin:
        word = line.strip()
        if word == QUIT:
            break
        if word == DOWN:
            listener.close()
        elif word == UP:
            _open_with_retries(listener)
        print(word, flush=True)
    listener.close()


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
