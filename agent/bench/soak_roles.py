"""The soak's Vigil roles: one ``vigil <role>`` process each, as docker-compose runs them.

Every role reads its own configuration file (``VIGIL_CONFIG``) and logs to its own file.
The bench is their orchestrator: a role it kills on purpose is started again at once
(a planned death); a role that exits by itself is recorded as an unplanned death, with
its exit code and the last lines of its log, and started again too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import yaml

ROLES = ("ingest", "scheduler", "worker", "dispatcher", "mqtt", "archiver", "api")
STOP_GRACE_S = 20.0
LOG_TAIL_LINES = 8
_LAUNCH = "from agent.cli.app import app; app()"


@dataclass(frozen=True, slots=True)
class Death:
    role: str
    at_s: float  # seconds into the run
    exit_code: int | None
    log_tail: list[str]


@dataclass
class RoleProcess:
    role: str
    config: Path
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    planned_kill: bool = False
    retired: bool = False  # stopped for good: ``check`` starts it no more
    deaths: list[Death] = field(default_factory=list)

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def start(self) -> None:
        env = {**os.environ, "VIGIL_CONFIG": str(self.config), "PYTHONUNBUFFERED": "1"}
        with self.log_path.open("ab") as log:
            log.write(f"--- start {self.starts + 1} at {time.time():.3f}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                [sys.executable, "-c", _LAUNCH, self.role],
                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        self.starts += 1
        self.planned_kill = False

    def kill(self) -> None:
        """SIGKILL, as an orchestrator's OOM-kill or a node loss would; started again by
        ``check``."""
        if self.process is not None and self.process.poll() is None:
            self.planned_kill = True
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def check(self, at_s: float) -> bool:
        """Restarts the process if it is gone; True when that was an unplanned death."""
        if self.retired or self.process is None or self.process.poll() is None:
            return False
        unplanned = not self.planned_kill
        if unplanned:
            code = self.process.returncode
            self.deaths.append(Death(self.role, round(at_s, 1), code, self._log_tail()))
        self.start()
        return unplanned

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.planned_kill = True
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def retire(self) -> None:
        """Stops the process for the rest of the run (SIGTERM, a planned stop)."""
        self.retired = True
        self.stop()

    def rss_bytes(self) -> int | None:
        """Resident memory of the role's process and its children (None when gone)."""
        if self.process is None or self.process.poll() is not None:
            return None
        try:
            parent = psutil.Process(self.process.pid)
            family = [parent, *parent.children(recursive=True)]
            return sum(int(member.memory_info().rss) for member in family)
        except psutil.Error:
            return None

    def _log_tail(self) -> list[str]:
        lines = self.log_path.read_text(errors="replace").splitlines()
        return lines[-LOG_TAIL_LINES:]


def write_configs(
    folder: Path, common: dict[str, object], per_role: dict[str, dict[str, object]]
) -> dict[str, Path]:
    """One YAML file per role: the common settings with the role's own on top."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for role in ROLES:
        path = folder / f"{role}.yaml"
        path.write_text(yaml.safe_dump({**common, **per_role.get(role, {})}, sort_keys=False))
        paths[role] = path
    return paths


def role_processes(configs: dict[str, Path], logs: Path) -> dict[str, RoleProcess]:
    logs.mkdir(parents=True, exist_ok=True)
    return {role: RoleProcess(role, configs[role], logs / f"{role}.log") for role in ROLES}
