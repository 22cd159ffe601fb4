"""Clips: stored frames in, clip-relative bands out, each frame touched once."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest
import redis

from agent.engines.clips import ClipError, jpeg_clip, pixel_clip
from streams.buffer.frames import append_frame, read_frames
from streams.bus.keys import Keys
from streams.picture.overlay import STRIP_HEIGHT, clip_time_text, render_strip
from tests.engines.frames import CLIP_START_S, MakeRecords


def test_pixel_clip_redraws_every_band_with_clip_seconds(make_records: MakeRecords) -> None:
    records = make_records(count=8, fps=4.0)
    clip = pixel_clip(records, fps=4.0)
    assert clip.frames.shape == (8, 280, 448, 3)
    for index in range(8):
        band = clip.frames[index, -STRIP_HEIGHT:]
        expected = render_strip(448, clip_time_text(index / 4.0), index)
        assert np.array_equal(band, expected), f"frame {index}"
    assert clip_time_text(7 / 4.0) == "1.75s"


def test_pixel_clip_keeps_the_picture_and_is_rgb(make_records: MakeRecords) -> None:
    records = make_records(count=2)
    clip = pixel_clip(records, fps=4.0)
    stored = cv2.imdecode(np.frombuffer(records[1].jpeg, np.uint8), cv2.IMREAD_COLOR_BGR)
    stored_rgb = stored[:, :, ::-1]
    picture = slice(0, 280 - STRIP_HEIGHT)
    assert np.array_equal(clip.frames[1, picture], stored_rgb[picture])
    box = clip.frames[1, 60, 20]  # the box is BGR (30, 160, 230) -> RGB (230, 160, 30)
    assert abs(int(box[0]) - 230) < 12
    assert abs(int(box[2]) - 30) < 12


def test_jpeg_clip_reencodes_with_clip_seconds(make_records: MakeRecords) -> None:
    records = make_records(count=4)
    clip = jpeg_clip(records, fps=4.0, quality=90)
    assert (clip.width, clip.height, len(clip.jpegs)) == (448, 280, 4)
    for index, jpeg in enumerate(clip.jpegs):
        frame = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR_BGR)
        band = frame[-STRIP_HEIGHT:].astype(np.int16)
        expected = render_strip(448, clip_time_text(index / 4.0), index).astype(np.int16)
        wrong = render_strip(448, clip_time_text(index / 4.0), index + 1).astype(np.int16)
        assert np.abs(band - expected).mean() < 4
        assert np.abs(band - expected).mean() < np.abs(band - wrong).mean()


def test_facts_carry_absolute_start_and_true_fps(make_records: MakeRecords) -> None:
    clip = pixel_clip(make_records(count=32, fps=4.0), fps=4.0)
    facts = clip.facts
    assert (facts.camera_id, facts.start_s, facts.fps, facts.frame_count) == (
        "dock-1", CLIP_START_S, 4.0, 32,
    )  # fmt: skip
    assert facts.duration_s == 8.0


def test_bad_windows_are_clip_errors(make_records: MakeRecords) -> None:
    with pytest.raises(ClipError, match="no frames"):
        pixel_clip([], fps=4.0)
    mixed = make_records(count=2) + make_records(count=1, width=644, picture_height=364)
    with pytest.raises(ClipError, match="differ in size"):
        jpeg_clip(mixed, fps=4.0)
    corrupt = [dataclasses.replace(make_records(count=1)[0], jpeg=b"\xff\xd8 not a jpeg")]
    with pytest.raises(ClipError, match="does not decode"):
        pixel_clip(corrupt, fps=4.0)


def test_clip_from_frames_read_back_from_redis(
    redis_client: redis.Redis, keys: Keys, make_records: MakeRecords
) -> None:
    records = make_records(count=40, camera_id="gate-2")
    pipe = redis_client.pipeline()
    for record in records:
        append_frame(pipe, keys, record, retention_s=600)
    pipe.execute()
    window = read_frames(redis_client, keys, "gate-2", CLIP_START_S + 2.0, CLIP_START_S + 10.0)
    clip = jpeg_clip(window, fps=4.0)
    assert len(clip.jpegs) == 32
    assert clip.facts.start_s == CLIP_START_S + 2.0
