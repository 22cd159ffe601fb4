"""WebRTC camera sources over WHEP: receive-only video, H.264 or VP8, with aiortc.

Each connection runs aiortc in an asyncio loop on a thread of its own. That loop drains
the received track as fast as aiortc decodes it (aiortc's own frame queue is unbounded)
into a small hand-off, dropping the oldest frames when the reader falls behind; the
reader's generator takes frames from there. Presentation times are the frames' RTP
timestamps. An HTTP error, an unusable answer, ICE failure, the track ending or silence
past the read timeout ends the connection with a SourceError, and the WHEP resource is
DELETEd whenever a connection ends, the reader's stop included.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Iterator

import av.video.frame
import httpx
from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpCodecCapability,
    RTCRtpReceiver,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from streams.decode.source_types import SourceError, SourceFrame, SourceOptions
from streams.urls import CameraUrl
from streams.webrtc.handoff import Handoff, HandoffClosedError
from streams.webrtc.signaling import WhepEndpoint, delete_resource, post_offer, whep_endpoint

log = logging.getLogger(__name__)

# Frames held for the reader: ~0.25 s at 30 fps. Sampling takes 4 of 30 frames a second,
# so this rides out a reader's hiccup while bounding memory and latency.
HANDOFF_FRAMES = 8
VIDEO_CODECS = ("video/H264", "video/VP8", "video/rtx")
POLL_S = 0.2  # how often a waiting reader looks at its stop event
HANG_UP_S = 3.0  # how long closing waits for the DELETE and the loop to finish


def whep_frames(
    url: CameraUrl, options: SourceOptions, stop: threading.Event
) -> Iterator[SourceFrame]:
    """One WHEP connection's frames, until it fails or ``stop`` is set."""
    connection = WhepConnection(whep_endpoint(url), options).start()
    try:
        yield from connection.frames(stop)
    finally:
        connection.close()


class WhepConnection:
    """One WHEP session: its asyncio loop on its own thread, and the hand-off it fills."""

    def __init__(
        self, endpoint: WhepEndpoint, options: SourceOptions, capacity: int = HANDOFF_FRAMES
    ) -> None:
        self._endpoint = endpoint
        self._options = options
        self.handoff: Handoff[SourceFrame] = Handoff(capacity)
        self._loop = asyncio.new_event_loop()
        self._hang_up = asyncio.Event()
        self._thread = threading.Thread(target=self._run, name="vigil-whep", daemon=True)
        self.state = "new"  # the peer connection's state, for error messages

    def start(self) -> WhepConnection:
        self._thread.start()
        return self

    def frames(self, stop: threading.Event) -> Iterator[SourceFrame]:
        timeout_s = self._options.connect_timeout_s
        waiting_since = time.monotonic()
        while not stop.is_set():
            item = self._next(POLL_S)
            self._report_dropped()
            if item is not None:
                yield item
                timeout_s, waiting_since = self._options.read_timeout_s, time.monotonic()
            elif time.monotonic() - waiting_since > timeout_s:
                raise SourceError(
                    f"no video from the WHEP endpoint for {timeout_s:g} s (connection {self.state})"
                )

    def close(self) -> None:
        """Hangs up (DELETE) and waits a little for the loop to finish."""
        with contextlib.suppress(RuntimeError):  # the loop has already finished
            self._loop.call_soon_threadsafe(self._hang_up.set)
        self._thread.join(HANG_UP_S)
        if self._thread.is_alive():
            log.warning("WHEP connection still closing after %.0f s", HANG_UP_S)

    def _next(self, timeout_s: float) -> SourceFrame | None:
        try:
            return self.handoff.get(timeout_s)
        except HandoffClosedError as closed:
            raise SourceError(str(closed)) from None

    def _report_dropped(self) -> None:
        dropped = self.handoff.take_dropped()
        if dropped and self._options.on_dropped is not None:
            self._options.on_dropped(dropped)

    # --- the loop thread -------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._loop.run_until_complete(self._session())
        except SourceError as error:
            self.handoff.close(str(error))
        except Exception as error:  # a bug or an aiortc surprise: end the connection
            log.debug("WHEP connection failed", exc_info=True)
            self.handoff.close(f"WHEP connection failed: {type(error).__name__}: {error}")
        finally:
            self.handoff.close("the WHEP connection closed")
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

    async def _session(self) -> None:
        peer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        peer.on("connectionstatechange", lambda: self._on_state(peer.connectionState))
        transceiver = peer.addTransceiver("video", direction="recvonly")
        transceiver.setCodecPreferences(video_codecs())
        timeout = httpx.Timeout(self._options.connect_timeout_s)
        try:
            async with httpx.AsyncClient(timeout=timeout) as http:
                await peer.setLocalDescription(await peer.createOffer())
                answer = await post_offer(http, self._endpoint, peer.localDescription.sdp)
                try:
                    await apply_answer(peer, answer.sdp)
                    await self._receive(transceiver)
                finally:
                    await peer.close()
                    await delete_resource(http, self._endpoint, answer.resource_url)
        finally:
            await peer.close()

    def _on_state(self, state: str) -> None:
        self.state = state
        if state == "failed":
            self.handoff.close("WebRTC connection failed (ICE or DTLS)")
            self._hang_up.set()

    async def _receive(self, transceiver: RTCRtpTransceiver) -> None:
        """Drains the track until it ends or the reader hangs up."""
        drain = asyncio.create_task(self._drain(transceiver.receiver.track))
        hang_up = asyncio.create_task(self._hang_up.wait())
        await asyncio.wait({drain, hang_up}, return_when=asyncio.FIRST_COMPLETED)
        for task in (drain, hang_up):
            task.cancel()
        await asyncio.gather(drain, hang_up, return_exceptions=True)
        if drain.done() and not drain.cancelled() and drain.exception() is not None:
            raise drain.exception()  # type: ignore[misc]

    async def _drain(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                self.handoff.close("the WHEP stream ended")
                return
            if isinstance(frame, av.video.frame.VideoFrame):
                self.handoff.put(SourceFrame(pts_s=frame.time, frame=frame))


async def apply_answer(peer: RTCPeerConnection, sdp: str) -> None:
    """Sets the endpoint's answer; anything aiortc cannot use is a clear SourceError."""
    try:
        await peer.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
    # aiortc's SDP parser asserts as well as raising ValueError.
    except (AssertionError, ValueError, KeyError, IndexError, TypeError) as error:
        reason = str(error) or type(error).__name__
        raise SourceError(f"WHEP endpoint answered an unusable SDP answer ({reason})") from None


def video_codecs() -> list[RTCRtpCodecCapability]:
    """H.264 first (what cameras send without transcoding), then VP8; RTX for both."""
    capabilities = RTCRtpReceiver.getCapabilities("video")
    assert capabilities is not None  # aiortc always receives video
    return sorted(
        (codec for codec in capabilities.codecs if codec.mimeType in VIDEO_CODECS),
        key=lambda codec: VIDEO_CODECS.index(codec.mimeType),
    )
