"""Root-cause summaries on real Redis: the clip times the model names are stored placed on
the wall clock, beside the model's own text, in the alert and in its event; a summary is
written once, by the worker holding its job, while its alert is in Redis."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import cast

import pytest
import redis.asyncio as aioredis

from agent.engines.answers import ReasoningAnswer
from agent.engines.clip_times import EN_DASH
from agent.engines.clips import Clip
from agent.pipeline.alert_book import AlertBook
from agent.pipeline.alert_records import read_alert
from agent.pipeline.jobs import Job, JobKind, JobQueue
from agent.pipeline.metrics import Counters
from agent.pipeline.settings import PipelineSettings
from agent.pipeline.summaries import Summarizer
from agent.pipeline.worker import Worker
from streams.buffer.frames import append_frame
from streams.bus.keys import Keys
from tests.engines.frames import make_frame_records
from tests.pipeline.conftest import eventually
from tests.pipeline.scripted_engine import ScriptedEngine

SUMMARY = "A forklift enters at 2.00s; the person steps into the lane 7-9s."
REASONING = "At 00:05 the person is still on the walkway."


async def test_a_summary_stores_its_clip_times_placed_on_the_wall_clock(
    aclient: aioredis.Redis, keys: Keys
) -> None:
    start = round(time.time()) - 60.0
    alert_id = await stored_alert(aclient, keys, start)
    job = Job(JobKind.SUMMARY, "dock", round((start + 8) * 1000), round((start + 10) * 1000),
              ("lane",), alert_id=alert_id, fps=4.0)  # fmt: skip
    engine = ScriptedEngine(summary=SUMMARY, reasoning=REASONING)
    settings = PipelineSettings(summary_context_s=8.0, summary_fps=1.0)
    await Summarizer(aclient, keys, engine, settings, AlertBook(aclient, keys)).run(job)

    alert = await read_alert(aclient, keys, alert_id)
    assert alert is not None
    assert alert.summary == SUMMARY  # the model's text, unchanged
    assert (alert.summary_clip_start, alert.summary_clip_end) == (start, start + 10)
    assert alert.summary_times is not None
    assert [(t.text, t.at) for t in alert.summary_times] == [
        ("2.00s", start + 2), ("7", start + 7), ("9s", start + 9),
    ]  # fmt: skip
    assert alert.summary_placed == (
        f"A forklift enters at 2.00s ({clock(start + 2)} UTC); the person steps into the lane "
        f"7-9s ({clock(start + 7)}{EN_DASH}{clock(start + 9)} UTC)."
    )
    assert alert.reasoning_times is not None
    assert [(t.text, t.at) for t in alert.reasoning_times] == [("00:05", start + 5)]

    entries = cast(list[tuple[bytes, dict[bytes, bytes]]], await aclient.xrange(keys.outbox))
    (event,) = [json.loads(fields[b"payload"]) for _, fields in entries]
    assert event["type"] == "alert.summarized"
    assert event["summary"] == SUMMARY
    assert event["summary_placed"] == alert.summary_placed
    assert event["summary_times"][0] == {"text": "2.00s", "clip_s": 2.0, "at": start + 2}
    assert event["summary_clip_start"] == pytest.approx(start)


def clock(epoch_s: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(epoch_s))


@dataclass
class GatedEngine(ScriptedEngine):
    """Reasons only once the gate opens: a worker paused while the model answered."""

    entered: asyncio.Event = field(default_factory=asyncio.Event)
    gate: asyncio.Event = field(default_factory=asyncio.Event)

    async def reason(self, clip: Clip, question: str) -> ReasoningAnswer:
        self.entered.set()
        await self.gate.wait()
        return await super().reason(clip, question)


async def test_a_summary_taken_over_while_the_model_answered_is_written_once(
    aclient: aioredis.Redis, keys: Keys
) -> None:
    """A worker paused past claim_idle_s while the model reasoned finds its summary job
    taken over: the worker that took it over writes the summary and its event, and the
    paused one drops its answer and leaves the job alone."""
    start = round(time.time()) - 60.0
    alert_id = await stored_alert(aclient, keys, start)
    job = Job(JobKind.SUMMARY, "dock", round((start + 8) * 1000), round((start + 10) * 1000),
              ("lane",), alert_id=alert_id, fps=4.0)  # fmt: skip
    settings = PipelineSettings(summary_context_s=8.0, summary_fps=1.0, worker_concurrency=1)
    queue = JobQueue(aclient, keys, 1000)
    await queue.ensure_group()
    assert await queue.enqueue(job)
    entries = cast(list[tuple[bytes, dict[bytes, bytes]]], await aclient.xrange(keys.jobs))
    ((entry_id, _),) = entries
    paused = GatedEngine(summary="The paused worker's late answer.")
    stop = asyncio.Event()
    worker = asyncio.create_task(Worker(aclient, keys, paused, settings, "paused").run(stop))
    try:
        await asyncio.wait_for(paused.entered.wait(), 20)
        # The paused worker missed renewing its hold: another takes the job over and runs it.
        await aclient.xclaim(keys.jobs, "workers", "other", 0, [entry_id])
        other = ScriptedEngine(summary=SUMMARY, reasoning=REASONING)
        book = AlertBook(aclient, keys)
        summarizer = Summarizer(aclient, keys, other, settings, book)
        await summarizer.run(job, lambda: queue.hold(entry_id, "other"))
        await queue.ack(entry_id, job.id)
        paused.gate.set()

        async def dropped() -> bool:
            return (await Counters(aclient, keys).all()).get("jobs_taken_over", 0) == 1

        await eventually(dropped, 20, "the paused worker to drop its answer")
    finally:
        stop.set()
        await worker
    alert = await read_alert(aclient, keys, alert_id)
    assert alert is not None
    assert alert.summary == SUMMARY  # the answer of the worker that took the job over
    entries = cast(list[tuple[bytes, dict[bytes, bytes]]], await aclient.xrange(keys.outbox))
    assert [fields[b"type"] for _, fields in entries] == [b"alert.summarized"]
    assert [mode for mode, _ in paused.calls + other.calls] == ["reason", "reason"]
    assert (await aclient.xpending(keys.jobs, "workers"))["pending"] == 0


async def test_a_summary_is_not_written_once_its_alert_left_redis(
    aclient: aioredis.Redis, keys: Keys
) -> None:
    """An alert archived and deleted while its summary was asked for is not written back as
    a lone summary, nor announced."""
    start = round(time.time()) - 60.0
    alert_id = await stored_alert(aclient, keys, start)
    job = Job(JobKind.SUMMARY, "dock", round((start + 8) * 1000), round((start + 10) * 1000),
              ("lane",), alert_id=alert_id, fps=4.0)  # fmt: skip
    engine = GatedEngine()
    settings = PipelineSettings(summary_context_s=8.0, summary_fps=1.0)
    summarizer = Summarizer(aclient, keys, engine, settings, AlertBook(aclient, keys))
    running = asyncio.create_task(summarizer.run(job))
    await asyncio.wait_for(engine.entered.wait(), 20)
    await aclient.delete(keys.alert(alert_id))
    engine.gate.set()
    await running
    assert await aclient.exists(keys.alert(alert_id)) == 0
    assert await aclient.xlen(keys.outbox) == 0


async def stored_alert(client: aioredis.Redis, keys: Keys, start: float) -> str:
    """An open alert of ``dock`` and 12 s of its frames from ``start``."""
    async with client.pipeline(transaction=False) as pipe:
        for record in make_frame_records(count=48, start_s=start, camera_id="dock"):
            append_frame(pipe, keys, record, retention_s=600)
        await pipe.execute()
    alert_id = "al_0123456789abcdef0123"
    await client.hset(
        keys.alert(alert_id),
        mapping={"id": alert_id, "camera": "dock", "rule": "lane", "question": "A person?"},
    )
    return alert_id
