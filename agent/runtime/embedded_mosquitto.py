"""A private Mosquitto broker on loopback, for ``vigil bench mqtt`` and the MQTT tests.

Vigil itself only connects to the broker configured under ``mqtt:``; this one listens
anonymously on one port and, when given a login, with username and password on another.
Sessions and retained messages persist in the work folder, so ``restart()`` behaves like
a production broker coming back.
"""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SBIN = "/usr/sbin:/usr/local/sbin"  # where Debian puts mosquitto, often off a user's PATH
READY_TIMEOUT_S = 10.0


class EmbeddedMosquittoError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class PasswordListener:
    port: int
    user: str
    password: str


class EmbeddedMosquitto:
    def __init__(
        self, workdir: Path, port: int, password_listener: PasswordListener | None = None
    ) -> None:
        self.port = port  # anonymous
        self._login = password_listener
        self._workdir = workdir
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def auth_port(self) -> int:
        """The listener that requires the username and password."""
        if self._login is None:
            raise EmbeddedMosquittoError("this broker has no password listener")
        return self._login.port

    @property
    def log_path(self) -> Path:
        return self._workdir / "mosquitto.log"

    def start(self) -> EmbeddedMosquitto:
        self._workdir.mkdir(parents=True, exist_ok=True)
        config = self._workdir / "mosquitto.conf"
        config.write_text(self._config())
        log = self.log_path.open("ab")
        command = [_binary("mosquitto"), "-c", str(config)]
        self._process = subprocess.Popen(command, stdout=log, stderr=log)
        self._wait_ready()
        return self

    def restart(self) -> None:
        self.stop()
        self.start()

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None

    def _config(self) -> str:
        lines = [
            # started by root, mosquitto would switch to its own user, who cannot read here
            f"user {getpass.getuser()}",
            "per_listener_settings true",
            f"persistence true\npersistence_location {self._workdir}/",
            f"listener {self.port} 127.0.0.1\nallow_anonymous true",
        ]
        if self._login is not None:
            lines.append(f"listener {self._login.port} 127.0.0.1\nallow_anonymous false")
            lines.append(f"password_file {self._password_file(self._login)}")
        return "\n".join(lines) + "\n"

    def _password_file(self, login: PasswordListener) -> Path:
        path = self._workdir / "passwd"
        command = [_binary("mosquitto_passwd"), "-b", "-c", str(path), login.user, login.password]
        subprocess.run(command, check=True)
        return path

    def _wait_ready(self) -> None:
        ports = [self.port] if self._login is None else [self.port, self._login.port]
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline and self._running():
            if all(_accepts(port) for port in ports):
                return
            time.sleep(0.05)
        self.stop()
        log = self.log_path.read_text(errors="replace")[-2000:]
        raise EmbeddedMosquittoError(f"mosquitto did not listen on {ports}: {log}")

    def _running(self) -> bool:
        return self._process is not None and self._process.poll() is None


def _binary(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=SBIN)
    if found is None:
        raise EmbeddedMosquittoError(f"{name} is not installed (apt-get install mosquitto)")
    return found


def _accepts(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0
