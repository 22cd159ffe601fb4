"""A WHEP endpoint serving a live moving test pattern, run as its own process by tests.

Usage: ``python whep_server.py PORT``; prints ``ready`` once it listens. Paths:

- ``/h264``, ``/vp8``: a 640x360, 30 fps pattern in that codec, one encoder per session;
- ``/status/NNN``: answers every offer with HTTP NNN;
- ``/garbage``: answers 201 with a body that is not a usable SDP answer.
"""

from __future__ import annotations

import fractions
import sys

import av
import numpy as np
from aiortc import VideoStreamTrack

from agent.bench.whep_endpoint import WhepEndpoint, WhepRequestHandler, allow_loopback_ice

WIDTH, HEIGHT = 640, 360
CODECS = {"/h264": "video/H264", "/vp8": "video/VP8"}
GARBAGE_SDP = b"v=0\r\no=- nonsense\r\nm=video not-a-port RTP/SAVPF x\r\na=rtpmap:zz\r\n"


class PatternTrack(VideoStreamTrack):
    """A colour gradient that scrolls a few pixels per frame, so every frame differs."""

    def __init__(self) -> None:
        super().__init__()
        x = np.linspace(0, 255, WIDTH, dtype=np.uint8)
        y = np.linspace(0, 255, HEIGHT, dtype=np.uint8)
        blue = np.full((HEIGHT, WIDTH), 96, np.uint8)
        self._base = np.dstack([np.tile(x, (HEIGHT, 1)), np.tile(y[:, None], (1, WIDTH)), blue])
        self._index = 0

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        self._index += 1
        picture = np.roll(self._base, 8 * self._index, axis=1)
        frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
        frame.pts, frame.time_base = pts, fractions.Fraction(time_base)
        return frame


class PatternSource:
    def track_for(self, path: str) -> tuple[PatternTrack, str] | None:
        codec = CODECS.get(path)
        return None if codec is None else (PatternTrack(), codec)


class FaultyHandler(WhepRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        if self.path.startswith("/status/"):
            self.read_offer()
            self.reply(int(self.path.rsplit("/", 1)[-1]), b"refused by the test", "text/plain")
        elif self.path == "/garbage":
            self.read_offer()
            self.reply(201, GARBAGE_SDP, "application/sdp", Location="/sessions/garbage")
        else:
            super().do_POST()


def main() -> None:
    allow_loopback_ice()
    WhepEndpoint(int(sys.argv[1]), PatternSource(), FaultyHandler).start()
    print("ready", flush=True)
    sys.stdin.read()  # serves until the test closes stdin or kills the process


if __name__ == "__main__":
    main()
