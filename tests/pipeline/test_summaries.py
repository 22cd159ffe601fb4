"""Root-cause summaries on real Redis: the clip times the model names are stored placed on
the wall clock, beside the model's own text, in the alert and in its event."""

from __future__ import annotations

import json
import time
from typing import cast

import pytest
import redis.asyncio as aioredis

from agent.engines.clip_times import EN_DASH
from agent.pipeline.alert_book import AlertBook
from agent.pipeline.alert_records import read_alert
from agent.pipeline.jobs import Job, JobKind
from agent.pipeline.settings import PipelineSettings
from agent.pipeline.summaries import Summarizer
from streams.buffer.frames import append_frame
from streams.bus.keys import Keys
from tests.engines.frames import make_frame_records
from tests.pipeline.scripted_engine import ScriptedEngine

SUMMARY = "A forklift enters at 2.00s; the person steps into the lane 7-9s."
REASONING = "At 00:05 the person is still on the walkway."


async def test_a_summary_stores_its_clip_times_placed_on_the_wall_clock(
    aclient: aioredis.Redis, keys: Keys
) -> None:
    start = round(time.time()) - 60.0
    async with aclient.pipeline(transaction=False) as pipe:
        for record in make_frame_records(count=48, start_s=start, camera_id="dock"):
            append_frame(pipe, keys, record, retention_s=600)
        await pipe.execute()
    alert_id = "al_0123456789abcdef0123"
    await aclient.hset(
        keys.alert(alert_id),
        mapping={"id": alert_id, "camera": "dock", "rule": "lane", "question": "A person?"},
    )
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
