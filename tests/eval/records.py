"""Frames of the bundled footage as ingest stores them, windows of them, questions."""

from __future__ import annotations

from pathlib import Path

from agent.engines.prompts import Question
from streams.buffer.frames import FrameRecord
from streams.ingest.file_sampling import Sampling, sample_file

FPS = 4.0
RED = Question("red-object", "Is a red object in the picture?")
QUESTIONS = [RED, Question("purple", "Is a purple object in the picture?")]


def frames_of(video: Path, until_s: float) -> list[FrameRecord]:
    """The video's frames as ingest stores them (sampled, sized, stamped, JPEG)."""
    return sample_file(video, Sampling(FPS, 448 * 252, 85), max_frames=round(until_s * FPS))


def window(records: list[FrameRecord], from_s: float) -> list[FrameRecord]:
    """32 records (8 s) from video second ``from_s`` on."""
    origin = records[0].ts
    first = next(i for i, record in enumerate(records) if record.ts - origin >= from_s)
    return records[first : first + 32]


def first_showing(records: list[FrameRecord], start_s: float) -> FrameRecord:
    """The first stored frame at or after the labelled start: where evidence must begin."""
    origin = records[0].ts
    return next(record for record in records if record.ts - origin >= start_s - 1e-6)
