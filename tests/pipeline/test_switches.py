"""A rule switched off on one camera, on real Redis: the camera gets no more windows for
it while the others do, an alert it had open is closed at once, and a window the model
was answering when it was switched off opens none."""

from __future__ import annotations

import time
from dataclasses import dataclass

import cv2
import numpy as np
import redis
import redis.asyncio as aioredis
from pydantic import SecretStr

from agent.engines.answers import VerdictAnswer
from agent.engines.clips import Clip
from agent.engines.prompts import Question
from agent.pipeline.alert_book import AlertBook, AlertEvent
from agent.pipeline.alert_state import Phase, WindowResult
from agent.pipeline.cameras_store import CameraStore
from agent.pipeline.jobs import Job, JobKind
from agent.pipeline.metrics import Counters
from agent.pipeline.rules import Rule
from agent.pipeline.rules_store import RuleStore
from agent.pipeline.scheduler import Scheduler, fixed_cameras
from agent.pipeline.window_job import WindowRunner
from streams.buffer.frames import FrameRecord, append_frame
from streams.bus.keys import Keys
from streams.config import CameraConfig, IngestSettings
from tests.pipeline.conftest import FAST
from tests.pipeline.scripted_engine import ScriptedEngine

FPS = 4.0
RULE = Rule(id="lane", question="Is a person in the lane?", motion_gated=False, cooldown_s=0)


def store_frames(client: redis.Redis, keys: Keys, camera_id: str, start_s: float) -> None:
    jpeg = cv2.imencode(".jpg", np.full((280, 448, 3), 128, np.uint8))[1].tobytes()
    pipe = client.pipeline()
    for index in range(int(10 * FPS)):
        record = FrameRecord(camera_id, start_s + index / FPS, index, 0.0, 448, 280, jpeg)
        append_frame(pipe, keys, record, 600)
    pipe.execute()


async def open_alert(book: AlertBook, camera_id: str, rule: Rule) -> AlertEvent:
    """The rule's alert opened on the camera by a window 30 s ago."""
    start_ms = round((time.time() - 30) * 1000)
    result = WindowResult(start_ms, start_ms + 2000, True, 0.9, "x")
    opened = await book.apply(camera_id, rule, result)
    assert opened is not None
    return opened


async def test_a_rule_switched_off_on_a_camera_gets_no_windows_there(
    redis_client: redis.Redis, aclient: aioredis.Redis, keys: Keys
) -> None:
    await RuleStore(aclient, keys).seed([RULE.switched("dock", on=False)])
    start_s = time.time() - 12
    for camera_id in ("dock", "gate"):
        store_frames(redis_client, keys, camera_id, start_s)
    scheduler = Scheduler(aclient, keys, FAST, fixed_cameras({"dock": FPS, "gate": FPS}))
    await scheduler.tick()
    jobs = [Job.from_fields(fields) for _, fields in await aclient.xrange(keys.jobs)]
    assert jobs
    assert {job.camera_id for job in jobs} == {"gate"}


async def test_switching_a_rule_off_closes_its_open_alert_at_once(
    aclient: aioredis.Redis, keys: Keys
) -> None:
    rules, book = RuleStore(aclient, keys), AlertBook(aclient, keys)
    await rules.seed([RULE])
    opened = await open_alert(book, "dock", RULE)
    await rules.put(RULE.switched("dock", on=False))
    await Scheduler(aclient, keys, FAST, fixed_cameras({"dock": FPS})).tick()
    assert (await book.track("dock", RULE.id)).phase is Phase.IDLE
    record = await aclient.hgetall(keys.alert(opened.alert_id))
    assert record[b"state"] == b"closed"
    assert not await aclient.scard(keys.open_alerts("dock"))


def test_switching_one_camera_leaves_the_others() -> None:
    rule = Rule(id="lane", question="Is a person in the lane?", cameras=["dock", "gate"])
    off = rule.switched("dock", on=False)
    assert (off.applies_to("dock"), off.applies_to("gate")) == (False, True)
    assert off.covers("dock")
    assert off.switched("dock", on=False) == off  # switching twice changes nothing
    assert off.switched("dock", on=True) == rule
    assert (
        not rule.model_copy(update={"enabled": False}).switched("dock", on=True).applies_to("dock")
    )  # switched off everywhere stays off


@dataclass
class SwitchingOffEngine(ScriptedEngine):
    """Detects the rule, but switches it off on the camera while it is answering."""

    rules: RuleStore | None = None

    async def verdicts(self, clip: Clip, questions: list[Question]) -> VerdictAnswer:
        assert self.rules is not None
        await self.rules.put(RULE.switched("dock", on=False))
        return await super().verdicts(clip, questions)


async def test_a_rule_switched_off_while_the_model_answers_opens_no_alert(
    redis_client: redis.Redis, aclient: aioredis.Redis, keys: Keys
) -> None:
    rules, book = RuleStore(aclient, keys), AlertBook(aclient, keys)
    await rules.seed([RULE])
    start_s = time.time() - 12
    store_frames(redis_client, keys, "dock", start_s)
    engine = SwitchingOffEngine(detect={RULE.id: [(0.0, 2e9)]}, rules=rules)
    counters = Counters(aclient, keys)
    window = WindowRunner(aclient, keys, engine, FAST, rules, book, counters)
    start_ms = round(start_s * 1000) + 1000
    job = Job(JobKind.WINDOW, "dock", start_ms, start_ms + 2000, (RULE.id,))
    await window.run(job, first_attempt=False)
    assert engine.calls  # the model was asked
    assert (await book.track("dock", RULE.id)).phase is Phase.IDLE
    assert (await counters.all())["verdicts_for_rules_switched_off:dock"] == 1


async def test_deleting_a_rule_closes_its_open_alert_at_once(
    aclient: aioredis.Redis, keys: Keys
) -> None:
    rules, book = RuleStore(aclient, keys), AlertBook(aclient, keys)
    other = Rule(id="exit", question="Is the fire exit blocked?", cooldown_s=0)
    await rules.seed([RULE, other])
    for rule in (RULE, other):
        await open_alert(book, "dock", rule)
    assert await rules.delete(RULE.id)
    await Scheduler(aclient, keys, FAST, fixed_cameras({"dock": FPS})).tick()
    assert (await book.track("dock", RULE.id)).phase is Phase.IDLE
    assert (await book.track("dock", other.id)).phase is Phase.OPEN  # still applies


async def test_a_camera_switched_off_has_its_open_alert_closed(
    aclient: aioredis.Redis, keys: Keys
) -> None:
    rules, book = RuleStore(aclient, keys), AlertBook(aclient, keys)
    await rules.seed([RULE])
    for camera_id in ("dock", "gate"):
        await open_alert(book, camera_id, RULE)
    scheduled = {"dock": FPS, "gate": FPS}
    scheduler = Scheduler(aclient, keys, FAST, fixed_cameras(scheduled))
    await scheduler.tick()
    assert (await book.track("dock", RULE.id)).phase is Phase.OPEN
    del scheduled["dock"]
    await scheduler.tick()
    assert (await book.track("dock", RULE.id)).phase is Phase.IDLE
    assert (await book.track("gate", RULE.id)).phase is Phase.OPEN


async def test_a_camera_switched_off_while_no_scheduler_ran_has_its_alert_closed(
    aclient: aioredis.Redis, keys: Keys
) -> None:
    await RuleStore(aclient, keys).seed([RULE])
    book = AlertBook(aclient, keys)
    await open_alert(book, "dock", RULE)
    off = CameraConfig(id="dock", url=SecretStr("rtsp://127.0.0.1:1/dock"), enabled=False)
    await CameraStore(aclient, keys).seed([off])
    cameras = CameraStore(aclient, keys)

    async def enabled() -> dict[str, float]:
        return await cameras.fps_by_camera(IngestSettings())

    await Scheduler(aclient, keys, FAST, enabled).tick()
    assert (await book.track("dock", RULE.id)).phase is Phase.IDLE
