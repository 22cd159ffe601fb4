"""A video file sampled exactly like live ingest: the same source and frame processor, so a
question about a file sees what the model would see from a camera."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import av

from streams.buffer.frames import FrameRecord
from streams.decode.clock import CaptureClock
from streams.ingest.processor import FrameProcessor
from streams.ingest.sources import SourceOptions, open_frames
from streams.urls import parse_camera_url


class FileSamplingError(RuntimeError):
    """The file cannot be sampled (missing, unreadable, no frames); the message says why."""


@dataclass(frozen=True, slots=True)
class Sampling:
    fps: float
    max_pixels: int
    jpeg_quality: int


def sample_file(path: Path, sampling: Sampling, max_frames: int) -> list[FrameRecord]:
    """One pass over the file at the ingest rate, at most ``max_frames`` frames."""
    duration_s = video_duration_s(path)
    processor = FrameProcessor(
        path.stem, sampling.fps, sampling.max_pixels, sampling.jpeg_quality,
        CaptureClock(max_drift_s=None),
    )  # fmt: skip
    stop = threading.Event()
    records: list[FrameRecord] = []
    first_pts_s: float | None = None
    url, options = parse_camera_url(str(path)), SourceOptions(realtime=False)
    for item in open_frames(url, options, stop, keeps=processor):
        if item.pts_s is not None:
            first_pts_s = item.pts_s if first_pts_s is None else first_pts_s
            if item.pts_s >= first_pts_s + duration_s:
                break  # the file source loops forever: one pass is enough
        record = processor.process(item)
        if record is not None:
            records.append(record)
        if len(records) >= max_frames:
            break
    stop.set()
    if not records:
        raise FileSamplingError(f"no frames could be sampled from {path.name}")
    return records


def video_duration_s(path: Path) -> float:
    """How long the file plays, from its container; FileSamplingError when unreadable."""
    if not path.is_file():
        raise FileSamplingError(f"no such video file: {path}")
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            if stream.duration is not None and stream.time_base is not None:
                return float(stream.duration * stream.time_base)
            if container.duration is not None:
                return float(container.duration) / 1_000_000
    except (av.FFmpegError, IndexError) as error:
        raise FileSamplingError(f"cannot read {path.name}: {error}") from None
    raise FileSamplingError(f"{path.name} does not say how long it is")
