"""Which packets a camera's decoder may skip: those whose frame sampling will never keep,
where the codec can drop them without changing any other frame.

Sampling keeps the first frame at or after each tick of its grid (streams/sampling.py).
When it looks at a frame captured at c, its next tick lies after the frame before, at
c_prev; so a frame with no tick in (c_prev, c] is never kept, whichever frames before it
were decoded. Such a frame may be skipped if nothing references it: FFmpeg knows which
frames those are (H.264 nal_ref_idc 0, H.265 sub-layer non-reference NAL types) and skips
exactly them under ``skip_frame = NONREF``, which this plan switches on and off per
packet. Kept frames are therefore exactly a full decode's ("exact" mode). On streams
without B-frames every frame is a reference and nothing is skipped.

Capture times come from the camera's clock (streams/clock.py) applied to the packets'
presentation times. Until that clock is anchored, after a presentation-time jump (until
the decoder has delivered the frame of the jump, which re-anchors the clock), and for
packets without a time, every packet is decoded. The one case left: a live source whose
clock drifts past the clock's limit re-anchors at an arbitrary frame, and packets already
in the decoder (a few frames) were judged on the old anchor.

"fast" mode also skips H.264's and H.265's deblocking filter on every frame: less CPU,
and kept frames that differ slightly from a full decode (BENCHMARKS.md gives the PSNR).
"""

from __future__ import annotations

import bisect
from typing import Protocol

from streams.config import DecodeMode

# A larger step between consecutive presentation times is a jump (a camera reboot, a
# wrap, a splice), after which the clock may re-anchor.
MAX_STEP_S = 1.0
RECENT_PACKETS = 64  # presentation times remembered, to find a packet's predecessor


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
