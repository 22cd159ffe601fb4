"""Decoded frames from FFmpeg (PyAV): RTSP over TCP, or a file played in a loop as if live.

Each generator is one connection; it ends (or raises SourceError) when the connection
does, and the camera reader decides when to reconnect. Both skip decoding the frames
sampling will never keep where the codec allows it (streams/decode/plan.py); no frame is
converted here: conversion costs as much as decoding, so only sampled frames pay it.
Decoders keep FFmpeg's default threading (slice threads, no frame threads): a core
decodes a 1080p camera many times faster than real time, and frame threads cost CPU of
their own (several percent) to save latency that sampling at 4 FPS does not need.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.container

from streams.decode.gop import GopCuts
from streams.decode.plan import DecodePlan, HeldPackets, KeepTest, codec_options
from streams.decode.source_types import SourceError, SourceFrame, SourceOptions


def network_frames(
    raw_url: str, options: SourceOptions, keeps: KeepTest | None
) -> Iterator[SourceFrame]:
    av_options = {"rtsp_transport": "tcp", "analyzeduration": "0", "probesize": "32"}
    timeouts = (options.connect_timeout_s, options.read_timeout_s)
    with av.open(raw_url, options=av_options, timeout=timeouts) as container:
        yield from _decoded(container, 0.0, options, keeps)
    raise SourceError("stream ended")


def looped_file_frames(
    path: Path, options: SourceOptions, stop: threading.Event, keeps: KeepTest | None
) -> Iterator[SourceFrame]:
    if not path.is_file():
        raise SourceError(f"no such video file: {path}")
    offset_s = 0.0
    pacer = _Pacer(stop)
    while not stop.is_set():
        loop_end_s = offset_s
        with av.open(str(path)) as container:
            for item in _decoded(container, offset_s, options, keeps):
                if item.pts_s is not None:
                    if options.realtime and pacer.wait_for(item.pts_s):
                        return
                    loop_end_s = item.pts_s
                yield item
            frame_s = _frame_duration_s(container)
        if loop_end_s <= offset_s:
            raise SourceError(f"no decodable video frames in {path.name}")
        offset_s = loop_end_s + frame_s


class _Pacer:
    """Plays presentation times in real time, as a camera would deliver them.

    After a hold-up (a busy machine) it moves on from the present instead of rushing
    through the missed frames, since a live camera would not have sent them in a burst.
    """

    MAX_LAG_S = 0.5

    def __init__(self, stop: threading.Event) -> None:
        self._stop = stop
        self._origin: float | None = None  # monotonic time of pts 0

    def wait_for(self, pts_s: float) -> bool:
        """Sleeps until the frame is due; True when asked to stop meanwhile."""
        now = time.monotonic()
        if self._origin is None or now - (self._origin + pts_s) > self.MAX_LAG_S:
            self._origin = now - pts_s
        delay = self._origin + pts_s - now
        return delay > 0 and self._stop.wait(delay)


def _frame_duration_s(container: av.container.InputContainer) -> float:
    rate = container.streams.video[0].average_rate
    return 1.0 / float(rate) if rate else 0.04


def _decoded(
    container: av.container.InputContainer,
    pts_offset_s: float,
    options: SourceOptions,
    keeps: KeepTest | None,
) -> Iterator[SourceFrame]:
    if not container.streams.video:
        raise SourceError("the source has no video stream")
    stream = container.streams.video[0]
    context = stream.codec_context
    context.options = codec_options(options.decode)
    plan = DecodePlan(keeps)
    cuts = GopCuts(context)
    held: HeldPackets[av.Packet[Any]] = HeldPackets()
    packets = 0  # since the last frame delivered
    for packet in container.demux(stream):
        flush = packet.size == 0  # the last packet only flushes the decoder
        packets += not flush
        wanted = plan.must_decode(_time_s(packet.pts, packet.time_base, pts_offset_s))
        cut = not flush and cuts.starts_closed_gop(packet)
        for ready, needed in held.admit(packet, wanted, cut):
            context.skip_frame = "DEFAULT" if needed else "NONREF"
            for frame in ready.decode():
                frame_s = None if frame.time is None else frame.time + pts_offset_s
                yield SourceFrame(pts_s=frame_s, frame=frame, source_frames=packets)
                packets = 0
                plan.delivered(frame_s)


def _time_s(pts: int | None, time_base: Fraction | None, pts_offset_s: float) -> float | None:
    if pts is None or time_base is None:
        return None
    return float(pts * time_base) + pts_offset_s
