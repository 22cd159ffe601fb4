"""How far each decode mode's kept frames are from a full decode's (``vigil bench ingest``).

A file is read through ingest's own frame path (source, clock, sampler, resize) once with
every frame decoded and once per mode; the kept frames are compared at the stored size
(448x252 by default), before the strip and JPEG, as PSNR over all three colour channels
of the pictures as a JPEG decoder would show them.
All readings anchor the clock at the same instant, so they sample the same grid.
"""

from __future__ import annotations

import math
import statistics
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from streams.config import DecodeMode, IngestSettings
from streams.decode.clock import CaptureClock
from streams.decode.source_types import SourceOptions
from streams.ingest.file_sampling import video_duration_s
from streams.ingest.processor import FrameProcessor
from streams.ingest.sources import open_frames
from streams.picture.ycbcr import Picture420
from streams.urls import parse_camera_url

ANCHOR_S = 1_000_000.0871  # any instant will do; off the grid, as a camera's would be
MODES: tuple[DecodeMode, ...] = ("exact", "fast")


@dataclass(frozen=True, slots=True)
class Fidelity:
    identical: bool  # every kept frame equal to the full decode's, pixel for pixel
    min_psnr_db: float | None  # None when identical (PSNR is infinite)
    median_psnr_db: float | None
    frames: int


def kept_pictures(path: Path, mode: DecodeMode | None) -> dict[float, Picture420]:
    """Capture time -> picture of each kept frame over one pass of the file; ``mode``
    None decodes every frame."""
    settings = IngestSettings()
    clock = CaptureClock(max_drift_s=None, now=lambda: ANCHOR_S)
    processor = FrameProcessor("bench", settings.fps, settings.max_pixels, 85, clock)
    options = SourceOptions(realtime=False, decode=mode or "exact")
    stop = threading.Event()
    url = parse_camera_url(str(path))
    keeps = None if mode is None else processor
    seconds, first, kept = video_duration_s(path), None, {}
    for item in open_frames(url, options, stop, keeps=keeps):
        if item.pts_s is not None:
            first = item.pts_s if first is None else first
            if item.pts_s >= first + seconds:
                break
        record = processor.process(item)
        if record is not None:
            kept[record.ts] = processor.picture(item.frame)
    stop.set()
    return kept


def psnr_db(reference: Picture420, other: Picture420) -> float:
    difference = reference.bgr().astype(np.float64) - other.bgr().astype(np.float64)
    error = np.mean(difference**2)
    return math.inf if error == 0 else 10 * math.log10(255.0**2 / float(error))


def fidelity(path: Path, mode: DecodeMode) -> Fidelity:
    full, tried = kept_pictures(path, None), kept_pictures(path, mode)
    if full.keys() != tried.keys():
        raise RuntimeError(f"{path.name}: {mode} decoding kept other frames than a full decode")
    scores = [psnr_db(full[ts], tried[ts]) for ts in full]
    finite = [score for score in scores if math.isfinite(score)]
    return Fidelity(
        identical=all(np.array_equal(full[ts].samples(), tried[ts].samples()) for ts in full),
        min_psnr_db=min(finite) if finite else None,
        median_psnr_db=statistics.median(finite) if finite else None,
        frames=len(scores),
    )


def worst(results: list[Fidelity]) -> Fidelity:
    """The figures over several videos: identical only if all are, the lowest PSNR."""
    finite = [result for result in results if result.min_psnr_db is not None]
    return Fidelity(
        identical=all(result.identical for result in results),
        min_psnr_db=min((r.min_psnr_db for r in finite if r.min_psnr_db), default=None),
        median_psnr_db=min((r.median_psnr_db for r in finite if r.median_psnr_db), default=None),
        frames=sum(result.frames for result in results),
    )
