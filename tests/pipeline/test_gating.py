"""Gating against change since the last analysed window, on real Redis: a slow change
whose every frame-to-frame motion stays under the threshold still gets a window analysed
once it has accumulated."""

from __future__ import annotations

import itertools
import time

import cv2
import numpy as np
import redis
import redis.asyncio as aioredis

from agent.pipeline.archive_records import WindowRecord
from agent.pipeline.jobs import Job
from agent.pipeline.rules import Rule
from agent.pipeline.rules_store import RuleStore
from agent.pipeline.scheduler import Scheduler, fixed_cameras
from streams.buffer.frames import FrameRecord, append_frame
from streams.bus.keys import Keys
from streams.picture.motion import motion_score, thumbnail
from streams.picture.overlay import add_strip, wall_time_text
from tests.pipeline.conftest import FAST

WIDTH, HEIGHT, FPS = 448, 252, 4.0
SETTINGS = FAST.model_copy(
    update={
        "window_s": 8.0, "stride_s": 8.0, "motion_threshold": 0.02, "heartbeat_s": 600.0,
        "max_window_age_s": 600.0, "verdict_wait_s": 0.0,
    }
)  # fmt: skip
RULE = Rule(id="spill", question="Is there a spill on the floor?")


def picture(spill_px: int) -> np.ndarray:
    """A grey floor with a dark spill of ``spill_px`` columns growing from the left."""
    frame = np.full((HEIGHT, WIDTH, 3), 170, np.uint8)
    frame[90:170, 40 : 40 + spill_px] = 40
    return frame


def store_slow_spill(client: redis.Redis, keys: Keys, start_s: float, seconds: float) -> float:
    """A spill growing by one column every other frame: about 1% of the picture a window,
    far under the 2% motion threshold frame to frame; returns the largest frame motion."""
    pipe = client.pipeline()
    previous, largest = None, 0.0
    for index in range(int(seconds * FPS)):
        frame = picture(index // 2)
        thumb = thumbnail(frame)
        motion = 0.0 if previous is None else motion_score(previous, thumb)
        largest, previous = max(largest, motion), thumb
        ts = start_s + index / FPS
        stamped = add_strip(frame, wall_time_text(ts), index)
        jpeg = cv2.imencode(".jpg", stamped)[1].tobytes()
        record = FrameRecord("floor", ts, index, motion, WIDTH, HEIGHT + 28, jpeg)
        append_frame(pipe, keys, record, 600)
    pipe.execute()
    return largest


async def test_a_slow_change_accumulates_until_a_window_is_analysed(
    redis_client: redis.Redis, aclient: aioredis.Redis, keys: Keys
) -> None:
    await RuleStore(aclient, keys).seed([RULE])
    start_s = (int(time.time()) // 8 - 12) * 8  # on the window grid, 96 s ago
    largest_motion = store_slow_spill(redis_client, keys, start_s, 88)
    assert largest_motion < SETTINGS.motion_threshold
    scheduler = Scheduler(aclient, keys, SETTINGS, fixed_cameras({"floor": FPS}))
    for _ in range(12):
        await scheduler.tick()
    jobs = [Job.from_fields(fields) for _, fields in await aclient.xrange(keys.jobs)]
    spans = [(job.start_ms / 1000 - start_s, job.end_ms / 1000 - start_s) for job in jobs]
    # The first window has nothing to compare with; then still windows are skipped until
    # the spill has grown past 2% of the picture since the last analysed window.
    assert spans[0] == (0.0, 8.0), spans
    assert len(spans) >= 3, spans
    assert {job.reason for job in jobs} == {"change"}
    skipped = (await aclient.hgetall(keys.metrics))[b"windows_skipped_still:floor"]
    assert int(skipped) >= 2
    ends = [end for _, end in spans]
    assert all(b - a >= 16 for a, b in itertools.pairwise(ends))  # a still window between
    # A window analysed for change reaches back over the still window before it, where
    # the change may have begun.
    assert all(end - start == 16 for start, end in spans[1:]), spans
    # Each still window is archived, without a call, as unchanged since the job before it.
    archived = [
        WindowRecord.from_fields(fields) for _, fields in await aclient.xrange(keys.archive)
    ]
    assert len(archived) == int(skipped)
    for record in archived:
        before = [job for job in jobs if job.end_ms <= record.start_ms][-1]
        assert record.unchanged_since == before.id
        assert (record.caption, record.verdicts) == ("", ())
        assert record.thumbnail_ms is not None
        assert record.start_ms <= record.thumbnail_ms < record.end_ms
