"""A window whose answer did not parse, on real Redis: it is recorded as a failure and still
handed to the archive, marked unparsed and claiming nothing, so the timeline has no hole."""

from __future__ import annotations

import time
from typing import cast

import redis
import redis.asyncio as aioredis

from agent.pipeline.alert_book import AlertBook
from agent.pipeline.alert_state import Phase
from agent.pipeline.archive_records import (
    RAW_MAX_CHARS,
    RuleVerdict,
    VerdictStatus,
    WindowRecord,
    unparsed_verdicts,
)
from agent.pipeline.jobs import Job, JobKind
from agent.pipeline.metrics import Counters
from agent.pipeline.rules import Rule
from agent.pipeline.rules_store import RuleStore
from agent.pipeline.window_job import WindowRunner
from streams.bus.keys import Keys
from tests.pipeline.conftest import FAST
from tests.pipeline.scripted_engine import ScriptedEngine
from tests.pipeline.test_switches import store_frames

LANE = Rule(id="lane", question="Is a person in the lane?", cooldown_s=0.0, consecutive=2)
DOOR = Rule(id="door", question="Is the fire door blocked?", cooldown_s=0.0)


async def archived(client: aioredis.Redis, keys: Keys) -> list[WindowRecord]:
    entries = cast(list[tuple[bytes, dict[bytes, bytes]]], await client.xrange(keys.archive))
    return [WindowRecord.from_fields(fields) for _, fields in entries]


async def test_an_unparsed_answer_is_archived_marked_so_and_leaves_no_hole(
    redis_client: redis.Redis, aclient: aioredis.Redis, keys: Keys
) -> None:
    """Three windows in a row, the model's answer to the middle one unparseable: all three
    reach the archive; the middle one claims no caption and no detection, and says why."""
    rules, book, counters = (
        RuleStore(aclient, keys),
        AlertBook(aclient, keys),
        Counters(aclient, keys),
    )
    await rules.seed([LANE, DOOR])
    start_s = time.time() - 12
    store_frames(redis_client, keys, "dock", start_s)
    engine = ScriptedEngine(detect={"lane": [(0.0, 2e9)]})
    runner = WindowRunner(aclient, keys, engine, FAST, rules, book, counters)
    first_ms = round(start_s * 1000) + 1000
    for index in range(3):
        engine.unparseable = index == 1
        start_ms = first_ms + index * 2000
        job = Job(JobKind.WINDOW, "dock", start_ms, start_ms + 2000, ("lane", "door"))
        await runner.run(job, first_attempt=False)

    records = await archived(aclient, keys)
    assert [record.start_ms for record in records] == [first_ms + i * 2000 for i in range(3)]
    assert [record.unparsed for record in records] == [False, True, False]
    unparsed = records[1]
    assert unparsed.caption == ""
    assert unparsed.unchanged_since is None
    assert unparsed.thumbnail_ms is not None  # the archive shows what the model was sent
    assert sorted((v.rule_id, v.detected, v.status) for v in unparsed.verdicts) == [
        ("door", False, VerdictStatus.UNPARSED),
        ("lane", False, VerdictStatus.UNPARSED),
    ]
    assert "not JSON: scripted failure" in unparsed.verdicts[0].description
    assert all(verdict.status is VerdictStatus.ANSWERED for verdict in records[0].verdicts)
    assert await aclient.xlen(keys.verdict_failures) == 1
    # Not a negative: the streak the first window started (two windows open the alert)
    # goes on through it.
    assert (await book.track("dock", "lane")).phase is Phase.OPEN


def test_an_unparsed_verdict_keeps_a_bounded_note_and_reads_back() -> None:
    raw = "x" * (10 * RAW_MAX_CHARS)
    (verdict,) = unparsed_verdicts(["lane"], "the answer is JSON but not an object", raw)
    assert len(verdict.description) < 2 * RAW_MAX_CHARS
    assert "the answer is JSON but not an object" in verdict.description
    assert RuleVerdict.from_json(verdict.to_json()) == verdict
    earlier = {"rule": "lane", "detected": True, "confidence": 0.8, "description": "a person"}
    assert RuleVerdict.from_json(earlier).status is VerdictStatus.ANSWERED
