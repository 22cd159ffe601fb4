"""Ingest from a real RTSP server into a real Redis."""

from __future__ import annotations

import itertools
import statistics
import time

import cv2
import numpy as np
import redis

from streams.buffer.frames import FrameRecord
from streams.bus.keys import Keys
from streams.picture.overlay import STRIP_HEIGHT, render_strip, wall_time_text
from tests.servers.rtsp import RtspServer
from tests.streams.helpers import all_frames, camera, running_ingest, wait_for

SECONDS = 6.0


def strip_of(record: FrameRecord) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(record.jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (record.height, record.width, 3)
    return image[-STRIP_HEIGHT:].astype(np.int16)


def test_frames_arrive_at_4_fps_with_capture_time_ids(
    redis_client: redis.Redis, keys: Keys, rtsp_server: RtspServer
) -> None:
    with running_ingest(redis_client, keys, [camera("dock", rtsp_server.url("/live"))]):
        wait_for(lambda: len(all_frames(redis_client, keys, "dock")) > 0, 10, "a first frame")
        first = all_frames(redis_client, keys, "dock")[0].ts
        time.sleep(SECONDS + 0.5)
    frames = [f for f in all_frames(redis_client, keys, "dock") if first <= f.ts < first + SECONDS]
    assert abs(len(frames) / SECONDS - 4.0) <= 0.2 + 1 / SECONDS
    stamps = [f.ts for f in frames]
    assert all(b > a for a, b in itertools.pairwise(stamps))
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    # The sampler never takes two frames closer than half a period (the first gap after
    # connecting can be that short); a starved source may stretch a gap, but not many.
    assert min(gaps) > 0.12, gaps
    assert abs(statistics.median(gaps) - 0.25) < 0.03, gaps
    assert sum(gap > 0.35 for gap in gaps) <= len(gaps) // 10, gaps
    entries = redis_client.xrange(keys.frames("dock"))
    assert [int(entry_id.split(b"-")[0]) for entry_id, _ in entries] == [
        int(float(fields[b"ts"]) * 1000) for _, fields in entries
    ]
    assert abs(time.time() - frames[-1].ts) < 5, "capture times are wall-clock times"


def test_frames_are_resized_to_the_budget_and_carry_their_time_in_the_strip(
    redis_client: redis.Redis, keys: Keys, rtsp_server: RtspServer
) -> None:
    with running_ingest(redis_client, keys, [camera("gate", rtsp_server.url("/live"))]):
        wait_for(lambda: len(all_frames(redis_client, keys, "gate")) >= 4, 10, "four frames")
    frames = all_frames(redis_client, keys, "gate")[:4]
    for record in frames:
        assert (record.width, record.height) == (448, 252 + STRIP_HEIGHT)
        strip = strip_of(record)
        own = render_strip(record.width, wall_time_text(record.ts), record.seq).astype(np.int16)
        other_time = render_strip(record.width, wall_time_text(record.ts + 1.37), record.seq)
        other_side = render_strip(record.width, wall_time_text(record.ts), record.seq + 1)
        own_error = np.abs(strip - own).mean()
        assert own_error < 4.0
        assert np.abs(strip - other_time.astype(np.int16)).mean() > own_error * 2
        assert np.abs(strip - other_side.astype(np.int16)).mean() > own_error * 2


def test_many_cameras_from_one_process(
    redis_client: redis.Redis, keys: Keys, rtsp_server: RtspServer
) -> None:
    ids = ["cam1", "cam2", "cam3"]
    cameras = [camera(camera_id, rtsp_server.url(f"/{camera_id}")) for camera_id in ids]
    with running_ingest(redis_client, keys, cameras) as service:
        wait_for(
            lambda: all(len(all_frames(redis_client, keys, c)) >= 12 for c in ids),
            15,
            "frames from every camera",
        )
        assert {c: service.healths[c].snapshot(time.time())["state"] for c in ids} == dict.fromkeys(
            ids, "online"
        )
    for camera_id in ids:
        assert all(f.camera_id == camera_id for f in all_frames(redis_client, keys, camera_id))


def test_retention_trims_frames_older_than_the_window(
    redis_client: redis.Redis, keys: Keys, rtsp_server: RtspServer
) -> None:
    spec = camera("short", rtsp_server.url("/live"), retention_s=1.0)
    with running_ingest(redis_client, keys, [spec]):
        wait_for(lambda: len(all_frames(redis_client, keys, "short")) >= 4, 10, "frames")
        time.sleep(3.0)
        frames = all_frames(redis_client, keys, "short")
    # Trimming is approximate (whole radix-tree nodes), so allow a few extra entries,
    # but three seconds of frames at 4 FPS must not all be there.
    assert len(frames) < 12
    assert frames[-1].ts - frames[0].ts < 3.0
