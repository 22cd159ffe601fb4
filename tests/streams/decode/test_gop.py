"""Closed-GOP starts found from NAL unit types, and packets held back until a kept frame
needs them or a closed GOP drops them."""

from __future__ import annotations

import itertools

import av
import pytest

from streams.decode.gop import GopCuts, first_slice_is_closed, nal_length_size
from streams.decode.plan import HeldPackets
from tests.servers.rtsp import RtspServer

SPS, PPS, SEI = b"\x67\x42", b"\x68\xce", b"\x06\x05"  # H.264 headers, then a payload byte
IDR, NON_IDR = b"\x65\x88", b"\x41\x9a"
H265_VPS, H265_IDR, H265_CRA, H265_TRAIL = b"\x40\x01", b"\x26\x01", b"\x2a\x01", b"\x02\x01"


def annex_b(*units: bytes) -> bytes:
    return b"".join(b"\x00\x00\x00\x01" + unit + b"\xab\xcd" for unit in units)


def length_prefixed(*units: bytes, size: int = 4) -> bytes:
    return b"".join(
        len(unit + b"\xab\xcd").to_bytes(size, "big") + unit + b"\xab\xcd" for unit in units
    )


@pytest.mark.parametrize(
    ("codec", "units", "closed"),
    [
        ("h264", (SPS, PPS, SEI, IDR), True),
        ("h264", (SEI, NON_IDR), False),  # a recovery point is not a cut
        ("h264", (SPS, PPS), False),  # no slice at all
        ("hevc", (H265_VPS, H265_IDR), True),
        ("hevc", (H265_VPS, H265_CRA), False),  # leading pictures may look back
        ("hevc", (H265_TRAIL,), False),
    ],
)
def test_the_first_slice_decides_in_both_framings(
    codec: str, units: tuple[bytes, ...], closed: bool
) -> None:
    assert first_slice_is_closed(annex_b(*units), codec, None) is closed
    assert first_slice_is_closed(length_prefixed(*units), codec, 4) is closed
    assert first_slice_is_closed(length_prefixed(*units, size=2), codec, 2) is closed


def test_the_length_size_comes_from_the_decoder_configuration() -> None:
    avcc = bytes([1, 0x64, 0, 0x1F, 0xFF, 0xE1])  # lengthSizeMinusOne 3
    hvcc = bytes([1] + [0] * 20 + [0x0D, 1])  # lengthSizeMinusOne 1 in byte 21
    assert nal_length_size("h264", avcc) == 4
    assert nal_length_size("hevc", hvcc) == 2
    assert nal_length_size("h264", None) is None
    assert nal_length_size("h264", b"\x00\x00\x00\x01\x67") is None, "Annex B parameter sets"


def test_truncated_or_garbage_packets_are_never_cuts() -> None:
    assert not first_slice_is_closed(b"", "h264", None)
    assert not first_slice_is_closed(b"\x00\x00\x01", "h264", None)
    assert not first_slice_is_closed(b"\xff" * 7, "h264", 4)  # a length past the end
    assert not first_slice_is_closed(b"\x00\x00", "hevc", 4)


def test_held_packets_go_to_the_decoder_before_a_packet_that_must_be_decoded() -> None:
    held: HeldPackets[str] = HeldPackets()
    assert held.admit("a", must_decode=False, starts_closed_gop=False) == []
    assert held.admit("b", must_decode=False, starts_closed_gop=False) == []
    assert held.admit("c", must_decode=True, starts_closed_gop=False) == [
        ("a", False), ("b", False), ("c", True)
    ]  # fmt: skip
    assert held.dropped == 0


def test_a_closed_gop_start_drops_the_held_packets_and_may_itself_be_held() -> None:
    held: HeldPackets[str] = HeldPackets()
    held.admit("a", must_decode=False, starts_closed_gop=False)
    held.admit("b", must_decode=False, starts_closed_gop=False)
    assert held.admit("idr", must_decode=False, starts_closed_gop=True) == []
    assert held.dropped == 2
    assert held.admit("p", must_decode=True, starts_closed_gop=False) == [
        ("idr", False), ("p", True)
    ]  # fmt: skip


def test_held_packets_are_bounded_for_a_stream_that_never_cuts() -> None:
    held: HeldPackets[int] = HeldPackets(limit=3)
    ready = [held.admit(n, must_decode=False, starts_closed_gop=False) for n in range(5)]
    assert ready == [[], [], [], [(0, False)], [(1, False)]]


def test_a_live_rtsp_stream_s_idr_packets_are_found(rtsp_server: RtspServer) -> None:
    """The test server's P-only mount sends an IDR picture every second (30 frames)."""
    with av.open(rtsp_server.url("/live"), options={"rtsp_transport": "tcp"}, timeout=10) as live:
        stream = live.streams.video[0]
        cuts = GopCuts(stream.codec_context)
        found = []
        for index, packet in enumerate(live.demux(stream)):
            if index >= 95:
                break
            if packet.size and cuts.starts_closed_gop(packet):
                found.append(index)
    assert len(found) >= 3, found
    assert all(b - a == 30 for a, b in itertools.pairwise(found)), found
