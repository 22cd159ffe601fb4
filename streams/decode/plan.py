"""Which packets a camera's decoder may skip: those whose frame sampling will never keep,
where the codec can drop them without changing any other frame.

Sampling keeps the first frame at or after each tick of its grid (streams/decode/sampling.py).
When it looks at a frame captured at c, its next tick lies after the frame before, at
c_prev; so a frame with no tick in (c_prev, c] is never kept, whichever frames before it
were decoded. Such a frame may be skipped if nothing references it: FFmpeg knows which
frames those are (H.264 nal_ref_idc 0, H.265 sub-layer non-reference NAL types) and skips
exactly them under ``skip_frame = NONREF``, which this plan switches on and off per
packet. Kept frames are therefore exactly a full decode's ("exact" mode). On streams
without B-frames every frame is a reference and nothing is skipped.

Capture times come from the camera's clock (streams/decode/clock.py) applied to the packets'
presentation times. Until that clock is anchored, after a presentation-time jump (until
the decoder has delivered the frame of the jump, which re-anchors the clock), and for
packets without a time, every packet is decoded. The one case left: a live source whose
clock drifts past the clock's limit re-anchors at an arbitrary frame, and packets already
in the decoder (a few frames) were judged on the old anchor.

A frame that no tick wants may still be needed as a reference by a later frame that one
does. Such packets are held back rather than decoded: the next packet that must be
decoded takes them to the decoder first, and a packet that starts a closed group of
pictures (streams/decode/gop.py) drops them, since nothing after it refers to them. So the tail
of a group of pictures after its last kept frame is never decoded, on streams without
B-frames too, and an intra-only stream decodes only the frames it keeps. Holding adds no
delay to kept frames: they are decoded as soon as their packet arrives.

"fast" mode also skips H.264's and H.265's deblocking filter on every frame: less CPU,
and kept frames that differ slightly from a full decode (BENCHMARKS.md gives the PSNR).
"""

from __future__ import annotations

import bisect
from typing import Generic, Protocol, TypeVar

from streams.config import DecodeMode

# A larger step between consecutive presentation times is a jump (a camera reboot, a
# wrap, a splice), after which the clock may re-anchor.
MAX_STEP_S = 1.0
RECENT_PACKETS = 64  # presentation times remembered, to find a packet's predecessor
HELD_PACKETS = 90  # bounds the packets held back: 3 s at 30 fps, far more than a tick

P = TypeVar("P")


class KeepTest(Protocol):
    def may_keep(self, previous_pts_s: float, pts_s: float) -> bool:
        """False only when sampling cannot keep a frame at ``pts_s`` that follows one at
        ``previous_pts_s``."""
        ...


def codec_options(mode: DecodeMode) -> dict[str, str]:
    """Options of the decoder as it opens, for ``mode``."""
    return {"skip_loop_filter": "all"} if mode == "fast" else {}


class DecodePlan:
    """One connection's packets, in decoding order: for each, whether it must be decoded."""

    def __init__(self, keeps: KeepTest | None) -> None:
        self._keeps = keeps
        self._recent: list[float] = []  # sorted
        self._unsettled_until: float | None = None

    def must_decode(self, pts_s: float | None) -> bool:
        """For a packet about to go to the decoder; False: the decoder may skip it."""
        if pts_s is None or self._keeps is None:
            return True
        previous = self._remember(pts_s)
        if previous is None or pts_s - previous > MAX_STEP_S:
            self._unsettled_until = pts_s
            return True
        if self._unsettled_until is not None:
            return True
        return self._keeps.may_keep(previous, pts_s)

    def delivered(self, pts_s: float | None) -> None:
        """The decoder delivered a frame, and the reader has taken it."""
        until = self._unsettled_until
        if until is not None and pts_s is not None and pts_s >= until:
            self._unsettled_until = None

    def _remember(self, pts_s: float) -> float | None:
        """The latest presentation time seen before ``pts_s``; None when none was."""
        index = bisect.bisect_left(self._recent, pts_s)
        if index == 0:
            self._recent.clear()  # the first packet, or time went back: a new timeline
        previous = self._recent[index - 1] if index > 0 else None
        self._recent.insert(index, pts_s)
        if len(self._recent) > RECENT_PACKETS:
            del self._recent[0]
        return previous


class HeldPackets(Generic[P]):
    """Packets no kept frame needs so far, in decoding order (see the module's text)."""

    def __init__(self, limit: int = HELD_PACKETS) -> None:
        self._limit = limit
        self._held: list[P] = []
        self.dropped = 0  # packets never decoded

    def admit(self, packet: P, must_decode: bool, starts_closed_gop: bool) -> list[tuple[P, bool]]:
        """The packets to decode now, in order, each with whether its frame must be decoded
        (False: the decoder may skip it if nothing references it)."""
        if starts_closed_gop:
            self.dropped += len(self._held)
            self._held.clear()
        if must_decode:
            ready = [(held, False) for held in self._held]
            self._held.clear()
            return [*ready, (packet, True)]
        self._held.append(packet)
        if len(self._held) > self._limit:  # a stream without cuts: decode as it comes
            return [(self._held.pop(0), False)]
        return []
