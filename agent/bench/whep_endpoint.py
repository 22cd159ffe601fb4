"""A local WHEP endpoint on aiortc's server side, for the ingest bench and the tests.

HTTP is the standard library's threaded server; aiortc runs in an asyncio loop on a
thread of its own, and each request hands its work to that loop. ``POST /{path}`` with
an SDP offer opens a session sending the track that the ``TrackSource`` gives for the
path, in the codec it names (201, the answer, ``Location: /sessions/{id}``);
``DELETE /sessions/{id}`` closes it; ``GET /stats`` tells what happened, as JSON.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol, TypeVar

import aioice.ice
from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamTrack

REQUEST_TIMEOUT_S = 10.0
T = TypeVar("T")


class TrackSource(Protocol):
    def track_for(self, path: str) -> tuple[MediaStreamTrack, str] | None:
        """A new track for a session on ``path`` and its codec (``video/H264``); None: 404."""
        ...


@dataclass
class EndpointStats:
    posts: int = 0
    deletes: int = 0
    authorizations: list[str] = field(default_factory=list)
    sessions: dict[str, RTCPeerConnection] = field(default_factory=dict)

    def as_json(self) -> bytes:
        return json.dumps(
            {
                "posts": self.posts,
                "deletes": self.deletes,
                "active": len(self.sessions),
                "authorizations": self.authorizations,
            }
        ).encode()


class WhepEndpoint:
    def __init__(
        self,
        port: int,
        tracks: TrackSource,
        handler: type[WhepRequestHandler] | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.tracks = tracks
        self.stats = EndpointStats()
        self.loop = asyncio.new_event_loop()
        self._http = ThreadingHTTPServer((host, port), handler or WhepRequestHandler)
        self._http.daemon_threads = True
        self._http.endpoint = self  # type: ignore[attr-defined]
        self._threads = [
            threading.Thread(target=self.loop.run_forever, name="whep-loop", daemon=True),
            threading.Thread(target=self._http.serve_forever, name="whep-http", daemon=True),
        ]

    def start(self) -> WhepEndpoint:
        for thread in self._threads:
            thread.start()
        return self

    def call(self, work: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Runs a coroutine function on the aiortc loop and waits for its result."""
        return asyncio.run_coroutine_threadsafe(work(), self.loop).result(REQUEST_TIMEOUT_S)

    async def open_session(self, path: str, offer: str) -> tuple[str, str] | None:
        """The session id and SDP answer, or None when no track is served on ``path``."""
        served = self.tracks.track_for(path)
        if served is None:
            return None
        track, codec = served
        peer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        await peer.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        sender = peer.addTrack(track)  # takes the offer's video section
        prefer_codec(next(t for t in peer.getTransceivers() if t.sender is sender), codec)
        await peer.setLocalDescription(await peer.createAnswer())
        session_id = uuid.uuid4().hex
        self.stats.sessions[session_id] = peer
        return session_id, peer.localDescription.sdp

    async def close_session(self, session_id: str) -> bool:
        peer = self.stats.sessions.pop(session_id, None)
        if peer is None:
            return False
        await peer.close()
        return True

    async def close_all(self) -> None:
        for session_id in list(self.stats.sessions):
            await self.close_session(session_id)

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()
        self.call(self.close_all)
        self.loop.call_soon_threadsafe(self.loop.stop)


def prefer_codec(transceiver: RTCRtpTransceiver, mime_type: str) -> None:
    codecs = RTCRtpSender.getCapabilities("video").codecs
    transceiver.setCodecPreferences(
        [codec for codec in codecs if codec.mimeType in (mime_type, "video/rtx")]
    )


class WhepRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    @property
    def endpoint(self) -> WhepEndpoint:
        return self.server.endpoint  # type: ignore[attr-defined,no-any-return]

    def do_POST(self) -> None:
        endpoint = self.endpoint
        offer = self.read_offer()
        path = self.path.split("?", 1)[0]
        try:
            opened = endpoint.call(lambda: endpoint.open_session(path, offer))
        except ValueError as error:  # an offer aiortc cannot answer
            self.reply(400, str(error).encode(), "text/plain")
            return
        if opened is None:
            self.reply(404, b"no stream here", "text/plain")
            return
        session_id, answer = opened
        self.reply(201, answer.encode(), "application/sdp", Location=f"/sessions/{session_id}")

    def read_offer(self) -> str:
        """The request's SDP offer; counts the request and keeps its Authorization."""
        self.endpoint.stats.posts += 1
        self.endpoint.stats.authorizations.append(self.headers.get("Authorization", ""))
        return self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()

    def do_DELETE(self) -> None:
        endpoint = self.endpoint
        endpoint.stats.deletes += 1
        session_id = self.path.rsplit("/", 1)[-1]
        closed = endpoint.call(lambda: endpoint.close_session(session_id))
        self.reply(200 if closed else 404, b"", "text/plain")

    def do_GET(self) -> None:
        if self.path == "/stats":
            self.reply(200, self.endpoint.stats.as_json(), "application/json")
        else:
            self.reply(404, b"", "text/plain")

    def reply(self, status: int, body: bytes, content_type: str, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the bench and the tests read ``/stats`` instead."""


def allow_loopback_ice() -> None:
    """Lets aioice offer 127.0.0.1 on a machine whose only interface is loopback.

    aioice leaves 127.0.0.1 out of its host candidates, so two peers on a host with no
    other address (a network namespace with only ``lo``, as CI sandboxes may be) find no
    pair. Only then is 127.0.0.1 offered; elsewhere discovery is left as it is.
    """
    discover = aioice.ice.get_host_addresses
    if getattr(discover, "vigil_loopback", False):
        return

    def with_loopback(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        addresses = discover(use_ipv4=use_ipv4, use_ipv6=use_ipv6)
        return addresses or (["127.0.0.1"] if use_ipv4 else [])

    with_loopback.vigil_loopback = True  # type: ignore[attr-defined]
    aioice.ice.get_host_addresses = with_loopback
