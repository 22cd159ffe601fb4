"""Ingest under faults: servers dying, unreachable or garbage sources, bad paths."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from streams.bus.keys import Keys
from tests.conftest import free_port
from tests.servers.rtsp import RtspServer
from tests.streams.helpers import all_frames, camera, running_ingest, state_of, wait_for


class TcpPeer:
    """A TCP server on loopback that either never answers or answers with garbage."""

    def __init__(self, garbage: bool) -> None:
        self._garbage = garbage
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._server.getsockname()[1])
        self._connections: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._server.accept()
            except OSError:
                return
            self._connections.append(connection)
            if self._garbage:
                with contextlib.suppress(OSError):
                    connection.sendall(os.urandom(4096))

    def close(self) -> None:
        self._server.close()
        for connection in self._connections:
            connection.close()


@pytest.fixture
def hung_peer() -> Iterator[TcpPeer]:
    peer = TcpPeer(garbage=False)
    yield peer
    peer.close()


@pytest.fixture
def garbage_peer() -> Iterator[TcpPeer]:
    peer = TcpPeer(garbage=True)
    yield peer
    peer.close()


def health_field(client: redis.Redis, keys: Keys, camera_id: str, field: str) -> str:
    value = client.hget(keys.health(camera_id), field)
    return value.decode() if value else ""


def test_server_killed_and_restarted_mid_stream(redis_client: redis.Redis, keys: Keys) -> None:
    server = RtspServer(free_port()).start()
    try:
        with running_ingest(redis_client, keys, [camera("yard", server.url())]):
            wait_for(lambda: state_of(redis_client, keys, "yard") == "online", 10, "online")
            server.kill()
            wait_for(
                lambda: state_of(redis_client, keys, "yard") in {"stalled", "offline"},
                10,
                "the camera to be seen down",
            )
            frames_when_down = len(all_frames(redis_client, keys, "yard"))
            server.start()
            restarted_at = time.time()
            wait_for(
                lambda: len(all_frames(redis_client, keys, "yard")) > frames_when_down + 4,
                15,
                "frames after the restart",
            )
            # Frames resume within the backoff cap (1 s here) plus connection set-up.
            resumed = all_frames(redis_client, keys, "yard")[frames_when_down]
            assert resumed.ts - restarted_at < 1.0 + 3.0
            wait_for(lambda: state_of(redis_client, keys, "yard") == "online", 5, "online again")
            assert int(health_field(redis_client, keys, "yard", "reconnects")) >= 1
    finally:
        server.kill()
    stamps = [f.ts for f in all_frames(redis_client, keys, "yard")]
    assert stamps == sorted(set(stamps)), "timestamps stay monotonic across the reconnect"


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("refused", "refused"),
        ("wrong-path", "not found"),
        ("hung", "no answer within"),
        ("garbage", "invalid data"),
    ],
)
def test_unusable_sources_give_a_clear_health_error(
    redis_client: redis.Redis,
    keys: Keys,
    rtsp_server: RtspServer,
    hung_peer: TcpPeer,
    garbage_peer: TcpPeer,
    label: str,
    expected: str,
) -> None:
    urls = {
        "refused": f"rtsp://127.0.0.1:{free_port()}/live",
        "wrong-path": rtsp_server.url("/no-such-stream"),
        "hung": f"rtsp://127.0.0.1:{hung_peer.port}/live",
        "garbage": f"rtsp://127.0.0.1:{garbage_peer.port}/live",
    }
    with running_ingest(redis_client, keys, [camera(label, urls[label])]) as service:
        wait_for(
            lambda: health_field(redis_client, keys, label, "last_error") != "",
            15,
            "a health error",
        )
        error = health_field(redis_client, keys, label, "last_error").lower()
        assert expected in error
        assert state_of(redis_client, keys, label) in {"offline", "connecting"}
        assert service.healths[label].snapshot(time.time())["frames_out"] == "0"
    assert all_frames(redis_client, keys, label) == []


def test_garbage_and_missing_files_give_a_clear_health_error(
    redis_client: redis.Redis, keys: Keys, tmp_path: Path
) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(os.urandom(50_000))
    cameras = [camera("junk", junk.as_uri()), camera("missing", (tmp_path / "none.mp4").as_uri())]
    with running_ingest(redis_client, keys, cameras):
        for camera_id in ("junk", "missing"):
            wait_for(
                lambda c=camera_id: health_field(redis_client, keys, c, "last_error") != "",
                10,
                f"a health error for {camera_id}",
            )
    assert "invalid data" in health_field(redis_client, keys, "junk", "last_error").lower()
    assert "no such video file" in health_field(redis_client, keys, "missing", "last_error")


def test_a_failing_camera_does_not_disturb_a_healthy_one(
    redis_client: redis.Redis, keys: Keys, rtsp_server: RtspServer
) -> None:
    cameras = [
        camera("good", rtsp_server.url("/cam1")),
        camera("bad", f"rtsp://127.0.0.1:{free_port()}/live"),
    ]
    with running_ingest(redis_client, keys, cameras):
        wait_for(lambda: len(all_frames(redis_client, keys, "good")) >= 8, 10, "good frames")
        wait_for(
            lambda: int(health_field(redis_client, keys, "bad", "reconnects") or 0) >= 2,
            10,
            "the bad camera retrying",
        )
        assert state_of(redis_client, keys, "good") == "online"
