"""The WebRTC side of ``vigil bench ingest --source whep``.

The bench's videos are served by a local WHEP endpoint in a process of its own (its CPU
is not the client's): their H.264 packets are sent as they are, in real time, looped,
so ingest receives exactly the stream that the file bench decodes. The baseline is a
bare aiortc client on the same endpoint that only receives and decodes, with aiortc's
own decoder, as ingest does.

Run as ``python -m agent.bench.whep PORT VIDEO...``: serves ``/bench-{index}``.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import av
import av.bitstream
import httpx
from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.mediastreams import MediaStreamTrack

from agent.bench.whep_endpoint import WhepEndpoint, allow_loopback_ice
from streams.webrtc.signaling import WhepEndpoint as WhepTarget
from streams.webrtc.signaling import delete_resource, post_offer
from streams.webrtc.whep import apply_answer, video_codecs


class FilePacketTrack(MediaStreamTrack):
    """A video file's H.264 packets in Annex B, looped and re-stamped, at real-time pace."""

    kind = "video"

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._container = av.open(str(path))
        self._packets = self._looped(self._container)
        self._origin: float | None = None  # wall time of pts 0

    async def recv(self) -> av.Packet[Any]:
        packet = next(self._packets)
        due_s = float((packet.pts or 0) * (packet.time_base or 0))
        if self._origin is None:
            self._origin = time.time() - due_s
        await asyncio.sleep(max(0.0, self._origin + due_s - time.time()))
        return packet

    def stop(self) -> None:
        super().stop()
        self._container.close()

    @staticmethod
    def _looped(container: av.container.InputContainer) -> Iterator[av.Packet[Any]]:
        stream = container.streams.video[0]
        annexb = av.bitstream.BitStreamFilterContext("h264_mp4toannexb", stream)
        offset, end = 0, 0
        while True:
            for packet in container.demux(stream):
                if packet.pts is None:  # the demuxer's end-of-file marker
                    continue
                for out in annexb.filter(packet):
                    out.pts = (out.pts or 0) + offset
                    end = max(end, out.pts + (out.duration or 0))
                    yield out
            offset = end
            container.seek(0)


class FileTracks:
    def __init__(self, videos: list[Path]) -> None:
        self._videos = videos

    def track_for(self, path: str) -> tuple[MediaStreamTrack, str] | None:
        index = path.removeprefix("/bench-")
        if not index.isdigit() or int(index) >= len(self._videos):
            return None
        return FilePacketTrack(self._videos[int(index)]), "video/H264"


@contextmanager
def served(videos: list[Path]) -> Iterator[list[str]]:
    """Serves the videos from a WHEP endpoint process; their ``whep://`` camera URLs.

    The clients of this process (ingest and the baseline) talk to it over loopback.
    """
    allow_loopback_ice()
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "agent.bench.whep", str(port), *map(str, videos)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        if process.stdout.readline().strip() != "ready":
            raise RuntimeError(f"the bench's WHEP endpoint did not start on port {port}")
        yield [f"whep://127.0.0.1:{port}/bench-{index}" for index in range(len(videos))]
    finally:
        process.kill()
        process.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_decode(urls: list[str], frames: list[int]) -> float:
    """CPU seconds of receiving and decoding each stream's frame count, all at once."""
    cpu_at = time.process_time()
    asyncio.run(_decode_all(urls, frames))
    return time.process_time() - cpu_at


async def _decode_all(urls: list[str], frames: list[int]) -> None:
    async with httpx.AsyncClient(timeout=10.0) as http:
        await asyncio.gather(
            *(_decode(http, url, count) for url, count in zip(urls, frames, strict=True))
        )


async def _decode(http: httpx.AsyncClient, url: str, frames: int) -> None:
    target = WhepTarget(url.replace("whep://", "http://", 1))
    peer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    transceiver = peer.addTransceiver("video", direction="recvonly")
    transceiver.setCodecPreferences(video_codecs())
    await peer.setLocalDescription(await peer.createOffer())
    answer = await post_offer(http, target, peer.localDescription.sdp)
    try:
        await apply_answer(peer, answer.sdp)
        for _ in range(frames):
            await transceiver.receiver.track.recv()
    finally:
        await peer.close()
        await delete_resource(http, target, answer.resource_url)


def main() -> None:
    allow_loopback_ice()
    port, videos = int(sys.argv[1]), [Path(arg) for arg in sys.argv[2:]]
    WhepEndpoint(port, FileTracks(videos)).start()
    print("ready", flush=True)
    sys.stdin.read()  # serves until the bench closes stdin or kills the process


if __name__ == "__main__":
    main()
