"""Gating per rule on real Redis: motion outside a rule's zones, or inside a mask, costs
no call for it; motion inside its zone does; a rule whose zones the camera lacks is not
asked there."""

from __future__ import annotations

import time

import cv2
import numpy as np
import redis
import redis.asyncio as aioredis
from pydantic import SecretStr

from agent.pipeline.cameras_store import CameraStore
from agent.pipeline.jobs import Job
from agent.pipeline.rules import Rule
from agent.pipeline.rules_store import RuleStore
from agent.pipeline.scheduler import Scheduler, fixed_cameras
from streams.buffer.frames import FrameRecord, append_frame
from streams.bus.keys import Keys
from streams.config import CameraConfig
from streams.picture.motion import change_map, pack_changes, share_changed, thumbnail
from streams.picture.overlay import add_strip, wall_time_text
from streams.zones import Zone
from tests.pipeline.test_gating import FPS, HEIGHT, SETTINGS, WIDTH

LANE = Zone(name="lane", points=[(0.0, 0.6), (0.5, 0.6), (0.5, 1.0), (0.0, 1.0)])
CLOCK = Zone(name="clock", points=[(0.0, 0.6), (0.2, 0.6), (0.2, 1.0), (0.0, 1.0)])
IN_LANE = Rule(id="lane-walker", question="Is a person in the lane?", zones=["lane"])
SETTINGS_QUIET = SETTINGS.model_copy(update={"heartbeat_s": 600.0})


def store(
    client: redis.Redis, keys: Keys, start_s: float, seconds: float, mover_at: tuple[int, int]
) -> None:
    """A grey floor with a dark box jumping back and forth by 20 px around ``mover_at``
    (x, y of its top-left corner) every frame: strong motion there, none elsewhere."""
    pipe = client.pipeline()
    previous = None
    for index in range(int(seconds * FPS)):
        frame = np.full((HEIGHT, WIDTH, 3), 170, np.uint8)
        x, y = mover_at[0] + (20 if index % 2 else 0), mover_at[1]
        frame[y : y + 50, x : x + 50] = 30
        thumb = thumbnail(frame)
        changed = change_map(previous, thumb)
        previous = thumb
        ts = start_s + index / FPS
        jpeg = cv2.imencode(".jpg", add_strip(frame, wall_time_text(ts), index))[1].tobytes()
        record = FrameRecord(
            "aisle",
            ts,
            index,
            share_changed(changed),
            WIDTH,
            HEIGHT + 28,
            jpeg,
            pack_changes(changed),
        )
        append_frame(pipe, keys, record, 600)
    pipe.execute()


async def scheduled(
    redis_client: redis.Redis, aclient: aioredis.Redis, keys: Keys, rules: list[Rule],
    mover_at: tuple[int, int], masks: tuple[Zone, ...] = (),
) -> list[Job]:  # fmt: skip
    await RuleStore(aclient, keys).seed(rules)
    camera = CameraConfig(
        id="aisle", url=SecretStr("rtsp://10.0.0.1/s"), zones=[LANE], masks=list(masks)
    )
    await CameraStore(aclient, keys).put(camera)
    start_s = (int(time.time()) // 8 - 9) * 8
    store(redis_client, keys, start_s, 64, mover_at)
    scheduler = Scheduler(aclient, keys, SETTINGS_QUIET, fixed_cameras({"aisle": FPS}))
    for _ in range(10):
        await scheduler.tick()
    return [Job.from_fields(fields) for _, fields in await aclient.xrange(keys.jobs)]


OUTSIDE = (300, 40)  # top right: outside the lane
INSIDE = (120, 180)  # inside the lane, outside the clock
IN_CLOCK = (10, 180)  # inside the lane and the clock mask


async def test_motion_outside_the_zone_costs_no_call_for_its_rule(
    redis_client: redis.Redis, aclient: aioredis.Redis, keys: Keys
) -> None:
    jobs = await scheduled(redis_client, aclient, keys, [IN_LANE], OUTSIDE)
    assert len(jobs) == 1  # the first window only: nothing to compare it with


async def test_motion_inside_the_zone_has_every_window_asked(
    redis_client: redis.Redis, aclient: aioredis.Redis, keys: Keys
) -> None:
    jobs = await scheduled(redis_client, aclient, keys, [IN_LANE], INSIDE)
    assert len(jobs) >= 6
    assert {job.reason for job in jobs[1:]} == {"motion"}


async def test_motion_in_a_mask_never_counts(
    redis_client: redis.Redis, aclient: aioredis.Redis, keys: Keys
) -> None:
    whole = Rule(id="anything", question="Is anything moving?")
    jobs = await scheduled(redis_client, aclient, keys, [IN_LANE, whole], IN_CLOCK, (CLOCK,))
    assert len(jobs) == 1


async def test_only_the_rules_due_are_asked_and_a_rule_without_its_zone_never(
    redis_client: redis.Redis, aclient: aioredis.Redis, keys: Keys
) -> None:
    whole = Rule(id="anything", question="Is anything moving?")
    elsewhere = Rule(id="dock", question="Is a truck at the dock?", zones=["dock"])
    jobs = await scheduled(redis_client, aclient, keys, [IN_LANE, whole, elsewhere], OUTSIDE)
    assert len(jobs) >= 6
    assert {job.rule_ids for job in jobs[1:]} == {("anything",)}
    assert all("dock" not in job.rule_ids for job in jobs)
