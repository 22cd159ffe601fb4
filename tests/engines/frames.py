"""Frames as ingest stores them, made in memory for the engine tests."""

from __future__ import annotations

import socket
from collections.abc import Callable

import cv2
import numpy as np

from streams.buffer.frames import FrameRecord
from streams.picture.overlay import STRIP_HEIGHT, add_strip, wall_time_text

CLIP_START_S = 1_750_000_000.0  # 2025-06-15T15:06:40Z

MakeRecords = Callable[..., list[FrameRecord]]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def make_frame_records(
    count: int = 32,
    width: int = 448,
    picture_height: int = 252,
    fps: float = 4.0,
    start_s: float = CLIP_START_S,
    camera_id: str = "dock-1",
    box_offset: int = 0,
) -> list[FrameRecord]:
    """Frames as ingest stores them: a moving box, the wall-clock strip, JPEG."""
    records = []
    for index in range(count):
        picture = np.full((picture_height, width, 3), 60, dtype=np.uint8)
        left = (box_offset + index * 9) % max(1, width - 40)
        picture[40:100, left : left + 40] = (30, 160, 230)
        ts = start_s + index / fps
        stamped = add_strip(picture, wall_time_text(ts), index)
        ok, jpeg = cv2.imencode(".jpg", stamped, [cv2.IMWRITE_JPEG_QUALITY, 85])
        assert ok
        records.append(
            FrameRecord(
                camera_id=camera_id, ts=ts, seq=index, motion=0.1, width=width,
                height=picture_height + STRIP_HEIGHT, jpeg=jpeg.tobytes(),
            )
        )  # fmt: skip
    return records
