"""A real Redis Cluster of three masters (Debian's ``redis-server``) on loopback ports."""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import redis

STARTUP_TIMEOUT_S = 20.0
BUS_PORT_OFFSET = 10_000  # each node also listens on port + 10000 for the cluster bus


def cluster_ports(count: int = 3) -> tuple[int, ...]:
    """Free loopback ports whose cluster-bus ports are free too (so below the ephemeral
    range, where port + 10000 would not exist)."""
    ports: list[int] = []
    while len(ports) < count:
        port = random.randrange(20_000, 30_000)
        if port not in ports and _free(port) and _free(port + BUS_PORT_OFFSET):
            ports.append(port)
    return tuple(ports)


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class RedisClusterError(RuntimeError):
    pass


class LocalRedisCluster:
    def __init__(self, data_dir: Path, ports: tuple[int, ...]) -> None:
        self.data_dir = data_dir
        self.ports = ports
        self._processes: list[subprocess.Popen[bytes]] = []

    @property
    def url(self) -> str:
        """A seed node's URL; a cluster client learns the other nodes from it."""
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    def start(self) -> LocalRedisCluster:
        server = shutil.which("redis-server")
        if server is None:
            raise RedisClusterError("redis-server is not installed (apt-get install redis-server)")
        for port in self.ports:
            self._processes.append(self._start_node(server, port))
        for port in self.ports:
            self._wait(lambda port=port: _node(port).ping(), f"node {port} to answer")
        self._create()
        for port in self.ports:
            self._wait(lambda port=port: _cluster_ok(port), f"node {port} to see cluster_state:ok")
        return self

    def stop(self) -> None:
        processes, self._processes = self._processes, []
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def _start_node(self, server: str, port: int) -> subprocess.Popen[bytes]:
        node_dir = self.data_dir / str(port)
        node_dir.mkdir(parents=True, exist_ok=True)
        command = [
            server, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(node_dir),
            "--cluster-enabled", "yes", "--cluster-config-file", str(node_dir / "nodes.conf"),
            "--cluster-node-timeout", "5000", "--save", "", "--appendonly", "no",
            "--loglevel", "warning", "--logfile", str(node_dir / "redis.log"),
        ]  # fmt: skip
        return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def _create(self) -> None:
        nodes = [f"127.0.0.1:{port}" for port in self.ports]
        command = ["redis-cli", "--cluster", "create", *nodes]
        result = subprocess.run(
            [*command, "--cluster-replicas", "0", "--cluster-yes"],
            capture_output=True,
            text=True,
            timeout=STARTUP_TIMEOUT_S,
        )
        if result.returncode != 0:
            self.stop()
            raise RedisClusterError(f"cluster create failed: {result.stdout[-500:]}")

    def _wait(self, ready: Callable[[], object], what: str) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if any(process.poll() is not None for process in self._processes):
                self.stop()
                raise RedisClusterError(f"a cluster node exited while waiting for {what}")
            try:
                if ready():
                    return
            except (redis.ConnectionError, redis.TimeoutError):
                pass
            time.sleep(0.05)
        self.stop()
        raise RedisClusterError(f"timed out waiting for {what}")


def _node(port: int) -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=port, socket_timeout=1.0)


def _cluster_ok(port: int) -> bool:
    with _node(port) as client:
        info = client.execute_command("CLUSTER INFO")  # parsed into a dict by redis-py
    return bool(info.get("cluster_state") == "ok")
