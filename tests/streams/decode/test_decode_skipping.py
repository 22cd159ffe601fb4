"""Ingest skips decoding frames sampling never keeps, and keeps exactly a full decode's.

Each comparison reads the same source twice through the real frame path (source, clock,
sampler, resize, strip, JPEG): once with the decoder allowed to skip, once decoding every
frame. The stored frames must match byte for byte, at the same capture times.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import statistics
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from streams.buffer.frames import FrameRecord
from streams.decode.clock import CaptureClock
from streams.decode.plan import DecodePlan
from streams.decode.source_types import SourceError, SourceFrame, SourceOptions
from streams.ingest.file_sampling import video_duration_s
from streams.ingest.processor import FrameProcessor
from streams.ingest.sources import open_frames
from streams.urls import parse_camera_url
from tests.servers.rtsp import RtspServer

FPS = 4.0
MAX_PIXELS = 448 * 252


def encode(path: Path, codec_args: list[str], seconds: float = 4.0, rate: int = 30) -> Path:
    """A test video of a moving pattern (every frame differs) with the given encoder."""
    source = f"testsrc2=size=640x360:rate={rate}"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", source, "-t", str(seconds),
         *codec_args, "-pix_fmt", "yuv420p", str(path)],
        check=True,
    )  # fmt: skip
    return path


@dataclass
class Reading:
    records: list[FrameRecord]
    source_frames: int
    decoded: int


def read_file(path: Path, anchor_s: float, skipping: bool, mode: str = "exact") -> Reading:
    """One pass over the file through the ingest frame path, the clock anchored at
    ``anchor_s`` so that two readings sample on the same grid."""
    processor = FrameProcessor(
        "cam", FPS, MAX_PIXELS, 85, CaptureClock(max_drift_s=None, now=lambda: anchor_s)
    )
    options = SourceOptions(realtime=False, decode=mode)  # type: ignore[arg-type]
    stop = threading.Event()
    frames = open_frames(
        parse_camera_url(str(path)), options, stop, keeps=processor if skipping else None
    )
    return _read(processor, frames, video_duration_s(path), stop)


def _read(
    processor: FrameProcessor, frames: Iterator[SourceFrame], seconds: float, stop: threading.Event
) -> Reading:
    reading = Reading([], 0, 0)
    first: float | None = None
    for item in frames:
        assert item.pts_s is not None
        first = item.pts_s if first is None else first
        if item.pts_s >= first + seconds:
            break
        reading.source_frames += item.source_frames
        reading.decoded += 1
        record = processor.process(item)
        if record is not None:
            reading.records.append(record)
    stop.set()
    return reading


def stored(reading: Reading) -> list[tuple[float, str]]:
    return [(r.ts, hashlib.sha256(r.jpeg).hexdigest()) for r in reading.records]


X264_BFRAMES = ["-c:v", "libx264", "-preset", "veryfast", "-g", "30"]  # x264's 3 B-frames
X264_PYRAMID = ["-c:v", "libx264", "-bf", "3", "-x264-params", "b-pyramid=normal"]
X264_P_ONLY = ["-c:v", "libx264", "-preset", "veryfast", "-bf", "0", "-g", "30"]
X264_OPEN_GOP = ["-c:v", "libx264", "-g", "30", "-x264-params", "open-gop=1"]
X265_BFRAMES = ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "bframes=3:log-level=0"]
X265_OPEN_GOP = ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "keyint=30:log-level=0"]
X265_CLOSED_GOP = [
    "-c:v", "libx265", "-preset", "ultrafast",
    "-x265-params", "keyint=30:open-gop=0:bframes=0:log-level=0",
]  # fmt: skip
MJPEG = ["-c:v", "mjpeg", "-q:v", "5"]


@pytest.mark.parametrize(
    ("codec_args", "rate", "most_decoded"),
    [
        (X264_BFRAMES, 30, 0.8),  # about half the frames are unreferenced B-frames
        (X264_PYRAMID, 25, 0.8),
        (X265_BFRAMES, 30, 0.8),
        (X264_OPEN_GOP, 30, 0.8),  # recovery points do not cut: their B-frames look back
        (X265_OPEN_GOP, 30, 0.8),  # nor do CRA pictures
        (X264_P_ONLY, 30, 0.95),  # every frame a reference: only GOP tails are dropped
        (X265_CLOSED_GOP, 30, 0.95),
        (MJPEG, 30, 0.25),  # intra-only: only kept frames are decoded
    ],
    ids=[
        "h264-bframes-30", "h264-pyramid-25", "h265-bframes-30", "h264-open-gop",
        "h265-open-gop", "h264-p-only", "h265-closed-gop", "mjpeg",
    ],
)  # fmt: skip
def test_kept_frames_are_a_full_decode_s(
    tmp_path: Path, codec_args: list[str], rate: int, most_decoded: float
) -> None:
    suffix = ".avi" if codec_args == MJPEG else ".mp4"
    video = encode(tmp_path / f"video{suffix}", codec_args, rate=rate)
    decoded_shares = []
    # Grid phases; at .05 a wrong cut at an open GOP's keyframe would spoil a kept frame.
    for anchor_s in (1_000_000.0, 1_000_000.05, 1_000_000.1234, 1_000_000.2071):
        full = read_file(video, anchor_s, skipping=False)
        skipped = read_file(video, anchor_s, skipping=True)
        assert stored(skipped) == stored(full), anchor_s
        assert skipped.source_frames == full.source_frames == full.decoded
        decoded_shares.append(skipped.decoded / full.decoded)
    assert statistics.mean(decoded_shares) < most_decoded, decoded_shares
    times = [record.ts for record in full.records]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(times) / (times[-1] - times[0] + 1 / FPS) == pytest.approx(FPS, abs=0.2)
    assert max(gaps[1:]) < 1 / FPS + 1.5 / rate  # the first may wait for the next tick


def test_a_stream_whose_timestamps_jump_never_loses_a_kept_frame(tmp_path: Path) -> None:
    """Two B-frame clips spliced with a 7.3 s jump in their timestamps, as a camera that
    rebooted or wrapped would send: the frames after the jump are kept as a full decode
    keeps them."""
    first = encode(tmp_path / "a.mp4", X264_BFRAMES, seconds=2.0)
    second = encode(tmp_path / "b.mp4", X264_BFRAMES, seconds=2.0)
    spliced = tmp_path / "spliced.ts"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(first), "-i", str(second), "-filter_complex",
         "[1:v]setpts=PTS+9.3/TB[late];[0:v][late]concat=n=2:v=1[out]", "-map", "[out]",
         *X264_BFRAMES, "-vsync", "passthrough", str(spliced)],
        check=True,
    )  # fmt: skip
    full = read_file(spliced, 1_000_000.0871, skipping=False)
    skipped = read_file(spliced, 1_000_000.0871, skipping=True)
    times = [record.ts for record in full.records]
    assert max(b - a for a, b in itertools.pairwise(times)) > 7.0, "the jump is there"
    assert stored(skipped) == stored(full)
    assert skipped.decoded < full.decoded


def test_fast_mode_skips_deblocking_and_keeps_the_same_frames_nearly_alike(
    tmp_path: Path,
) -> None:
    video = encode(tmp_path / "video.mp4", X264_BFRAMES)
    exact = read_file(video, 1_000_000.0, skipping=True)
    fast = read_file(video, 1_000_000.0, skipping=True, mode="fast")
    assert [r.ts for r in fast.records] == [r.ts for r in exact.records]
    assert [r.jpeg for r in fast.records] != [r.jpeg for r in exact.records]


class FakeKeeps:
    """Keeps only frames after a tick of a 1 s grid: easy to reason about."""

    def __init__(self) -> None:
        self.asked: list[tuple[float, float]] = []

    def may_keep(self, previous_pts_s: float, pts_s: float) -> bool:
        self.asked.append((previous_pts_s, pts_s))
        return int(pts_s) > int(previous_pts_s)


def test_the_plan_decodes_until_the_clock_has_seen_the_stream_and_after_every_jump() -> None:
    keeps = FakeKeeps()
    plan = DecodePlan(keeps)
    assert plan.must_decode(0.0), "the first packet anchors the clock"
    assert plan.must_decode(0.1), "not yet delivered: the clock is not anchored"
    plan.delivered(0.0)
    assert not plan.must_decode(0.2)
    assert plan.must_decode(1.05), "a tick lies between 0.2 and 1.05"
    assert plan.must_decode(None), "no time: nothing to judge by"
    assert plan.must_decode(40.0), "a jump"
    assert plan.must_decode(40.1), "the jump's frame has not reached the clock yet"
    plan.delivered(40.0)
    assert not plan.must_decode(40.2)
    assert plan.must_decode(3.0), "time went back: a new timeline"
    plan.delivered(3.0)
    assert not plan.must_decode(3.5)
    assert keeps.asked[-1] == (3.0, 3.5), "the new timeline's own frames are the predecessors"


def test_the_predecessor_is_the_latest_earlier_time_whatever_the_decoding_order() -> None:
    keeps = FakeKeeps()
    plan = DecodePlan(keeps)
    plan.must_decode(0.0)
    plan.delivered(0.0)
    for pts_s in (0.3, 0.1, 0.2, 0.6, 0.4, 0.5):  # references first, as B-frames come
        plan.must_decode(pts_s)
    assert keeps.asked == [(0.0, 0.3), (0.0, 0.1), (0.1, 0.2), (0.3, 0.6), (0.3, 0.4), (0.4, 0.5)]


def test_without_a_keep_test_every_packet_is_decoded() -> None:
    plan = DecodePlan(None)
    plan.delivered(0.0)
    assert all(plan.must_decode(t / 10) for t in range(30))


@pytest.mark.parametrize(
    ("mount", "most_decoded"),
    # Without B-frames only GOP tails are dropped, none when the last tick of a GOP
    # falls on its last frame: the grid's phase against the live stream decides.
    [("/bframes", 0.8), ("/live", 1.0)],
)
def test_live_rtsp_keeps_frames_decoded_as_a_full_decode_does(
    rtsp_server: RtspServer, mount: str, most_decoded: float
) -> None:
    """Two readers play the same live mount at once, one skipping, one decoding
    everything: the skipping one decodes fewer frames, every frame it keeps is pixel for
    pixel one of the full decode's, and it still keeps one frame per tick."""
    url = parse_camera_url(rtsp_server.url(mount))
    seconds = 4.0
    skipping = FrameProcessor("cam", FPS, MAX_PIXELS, 85, CaptureClock())
    stop = threading.Event()
    fully_decoded: set[str] = set()

    def decode_everything() -> None:
        with contextlib.suppress(SourceError):
            for item in open_frames(url, SourceOptions(), stop):
                fully_decoded.add(_pixels(item))
                if stop.is_set():
                    return

    full_reader = threading.Thread(target=decode_everything, daemon=True)
    full_reader.start()
    time.sleep(0.5)  # the full reader is playing before the skipping one starts
    kept: list[tuple[float, str]] = []
    source_frames = decoded = 0
    started = time.monotonic()
    for item in open_frames(url, SourceOptions(), stop, keeps=skipping):
        if time.monotonic() - started >= seconds:
            break
        decoded += 1
        source_frames += item.source_frames
        record = skipping.process(item)
        if record is not None:
            kept.append((record.ts, _pixels(item)))
    time.sleep(0.5)  # the full reader decodes the frames the skipping one saw last
    stop.set()
    full_reader.join(10)

    assert decoded <= most_decoded * source_frames, (decoded, source_frames)
    missing = [digest for _, digest in kept if digest not in fully_decoded]
    assert not missing, f"{len(missing)} of {len(kept)} kept frames are not decoded alike"
    times = [ts for ts, _ in kept]
    assert len(kept) >= 8, times
    assert abs(len(kept) - 1 - (times[-1] - times[0]) * FPS) <= 1, times
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert max(gaps[1:]) < 1 / FPS + 1.5 / 30, gaps


def _pixels(item: SourceFrame) -> str:
    return hashlib.sha256(item.frame.to_ndarray().tobytes()).hexdigest()
