"""Starts and stops a real Mosquitto broker with an anonymous and a password listener."""

from __future__ import annotations

import getpass
import socket
import subprocess
import time
from pathlib import Path

BINARY = "/usr/sbin/mosquitto"
PASSWD = "/usr/bin/mosquitto_passwd"
READY_TIMEOUT_S = 10.0


class Mosquitto:
    def __init__(self, workdir: Path, port: int, auth_port: int, user: str, password: str) -> None:
        self.port = port  # anonymous
        self.auth_port = auth_port  # username and password required
        self.user = user
        self.password = password
        self._workdir = workdir
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> Mosquitto:
        passwords = self._workdir / "passwd"
        subprocess.run([PASSWD, "-b", "-c", str(passwords), self.user, self.password], check=True)
        config = self._workdir / "mosquitto.conf"
        config.write_text(
            # started by root, mosquitto would switch to its own user, who cannot read here
            f"user {getpass.getuser()}\nper_listener_settings true\n"
            # sessions and retained messages survive restart(), as on a production broker
            f"persistence true\npersistence_location {self._workdir}/\n"
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
            f"listener {self.auth_port} 127.0.0.1\nallow_anonymous false\n"
            f"password_file {passwords}\n"
        )
        log = (self._workdir / "mosquitto.log").open("ab")
        self._process = subprocess.Popen([BINARY, "-c", str(config)], stdout=log, stderr=log)
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

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline and self._running():
            if all(_accepts(port) for port in (self.port, self.auth_port)):
                return
            time.sleep(0.05)
        self.stop()
        log = (self._workdir / "mosquitto.log").read_text()[-2000:]
        raise RuntimeError(f"mosquitto did not listen on {self.port}, {self.auth_port}: {log}")

    def _running(self) -> bool:
        return self._process is not None and self._process.poll() is None


def _accepts(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0
