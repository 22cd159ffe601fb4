"""Where a coded video stream may be cut: packets that start a closed group of pictures,
after which no frame refers to a frame decoded before it.

For H.264 that is an IDR picture; for H.265 an IDR picture or a broken link (BLA) without
skipped leading pictures. A CRA picture or an H.264 recovery point is not: the leading
pictures that follow it may refer to frames before it, although FFmpeg flags both as
keyframes. For intra-only codecs (MJPEG) every packet starts one.

Packets come in one of two framings: Annex B (start codes, as RTSP delivers them) or
length-prefixed NAL units (MP4 and Matroska; the decoder configuration in the stream's
extradata gives the length's size).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import av.packet
import av.video.codeccontext

H264_IDR = frozenset({5})
H264_SLICES = frozenset({1, 2, 5})  # non-IDR, partition A, IDR
H265_CLOSED = frozenset({17, 18, 19, 20})  # BLA_W_RADL, BLA_N_LP, IDR_W_RADL, IDR_N_LP
H265_SLICES = frozenset(range(32))
START_CODE = b"\x00\x00\x01"


class GopCuts:
    """Decides, for one stream's packets, which start a closed group of pictures."""

    def __init__(self, context: av.video.codeccontext.VideoCodecContext) -> None:
        self._intra_only = bool(context.codec.intra_only)
        self._codec = context.name
        self._length_size = nal_length_size(context.name, context.extradata)

    def starts_closed_gop(self, packet: av.packet.Packet[Any]) -> bool:
        if self._intra_only:
            return True
        if not packet.is_keyframe or self._codec not in ("h264", "hevc"):
            return False
        return first_slice_is_closed(bytes(packet), self._codec, self._length_size)


def nal_length_size(codec: str, extradata: bytes | None) -> int | None:
    """The size of a NAL unit's length prefix; None for Annex B framing."""
    if not extradata or extradata[0] != 1:  # avcC and hvcC both begin with version 1
        return None
    at = 4 if codec == "h264" else 21  # where each record keeps lengthSizeMinusOne
    return (extradata[at] & 0x03) + 1 if len(extradata) > at else None


def first_slice_is_closed(data: bytes, codec: str, length_size: int | None) -> bool:
    """Whether the packet's first slice NAL unit is a closed-GOP start."""
    slices, closed = (H264_SLICES, H264_IDR) if codec == "h264" else (H265_SLICES, H265_CLOSED)
    for header in _nal_headers(data, length_size):
        nal_type = header & 0x1F if codec == "h264" else (header >> 1) & 0x3F
        if nal_type in slices:
            return nal_type in closed
    return False


def _nal_headers(data: bytes, length_size: int | None) -> Iterator[int]:
    """The first byte of each NAL unit in the packet, in order."""
    if length_size is None:
        at = data.find(START_CODE)
        while at >= 0 and at + 3 < len(data):
            yield data[at + 3]
            at = data.find(START_CODE, at + 3)
        return
    at = 0
    while at + length_size < len(data):
        yield data[at + length_size]
        at += length_size + int.from_bytes(data[at : at + length_size], "big")
