"""The pipeline end to end on real Redis and real ingest, with a scripted engine."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path
from typing import cast

import pytest
import redis
import redis.asyncio as aioredis

from agent.pipeline.alert_state import alert_id_for
from agent.pipeline.archive_records import WindowRecord
from agent.pipeline.metrics import Counters
from agent.pipeline.rules import Rule
from agent.pipeline.rules_store import RuleStore
from streams.bus.keys import Keys
from streams.ingest.demo import demo_video_path
from tests.pipeline.conftest import FAST, eventually, running_pipeline
from tests.pipeline.scripted_engine import SUMMARY, ScriptedEngine
from tests.streams.helpers import camera, running_ingest

LANE = Rule(
    id="lane",
    question="Is a person walking in the forklift lane?",
    consecutive=2,
    close_after_s=2.0,
    cooldown_s=0.0,
)


async def events(client: aioredis.Redis, stream: str) -> list[dict[str, str]]:
    entries = cast(list[tuple[bytes, dict[bytes, bytes]]], await client.xrange(stream))
    return [{k.decode(): v.decode() for k, v in fields.items()} for _, fields in entries]


def grid_start(epoch_s: float) -> float:
    return (int(epoch_s * 1000) // 2000 + 1) * 2000 / 1000


async def test_scripted_detections_become_exactly_the_expected_alerts(
    bus_clients: tuple[redis.Redis, aioredis.Redis], keys: Keys
) -> None:
    redis_client, aclient = bus_clients
    await RuleStore(aclient, keys).seed([LANE])
    first_positive = grid_start(time.time() + 4)
    positive = [first_positive, first_positive + 2, first_positive + 4]
    engine = ScriptedEngine(detect={"lane": [(first_positive, first_positive + 6)]})
    with running_ingest(redis_client, keys, [camera("dock", demo_video_path().as_uri())]):
        async with running_pipeline(aclient, keys, engine, {"dock": 4.0}):

            async def summarized() -> bool:
                return any(
                    e["type"] == "alert.summarized" for e in await events(aclient, keys.alerts)
                )

            async def closed() -> bool:
                return any(e["type"] == "alert.closed" for e in await events(aclient, keys.alerts))

            await eventually(closed, 30, "the alert to close")
            await eventually(summarized, 10, "the summary")
    alert_id = alert_id_for("dock", "lane", round(positive[1] * 1000))
    timeline = await events(aclient, keys.alerts)
    lifecycle = [e["type"] for e in timeline if e["type"] != "alert.summarized"]
    assert lifecycle == ["alert.opened", "alert.updated", "alert.closed"]
    assert [e["type"] for e in timeline].count("alert.summarized") == 1
    assert {e["alert_id"] for e in timeline} == {alert_id}
    assert len(await events(aclient, keys.outbox)) == len(timeline)
    assert len(await events(aclient, keys.camera_alerts("dock"))) == len(timeline)

    alert = {
        k.decode(): v.decode() for k, v in (await aclient.hgetall(keys.alert(alert_id))).items()
    }
    assert alert["state"] == "closed"
    # Stamped with the onset (the first positive window's evidence, clip seconds 0.5-1.5 on
    # the wall clock), opened once the second positive window confirmed it.
    assert float(alert["onset_at"]) == pytest.approx(positive[0] + 0.5, abs=0.3)
    assert float(alert["opened_at"]) >= positive[1] + 2
    assert float(alert["last_positive_at"]) == positive[2] + 2
    assert alert["summary"] == SUMMARY
    assert alert["windows"] == "3"  # both windows of the streak, and the update
    evidence_times = json.loads(alert["evidence"])
    assert evidence_times["start"] == pytest.approx(positive[0] + 0.5, abs=0.3)
    assert evidence_times["end"] == pytest.approx(positive[1] + 1.5, abs=0.3)
    # Last seen at the end of the update's evidence; the evidence stays the opening's.
    assert float(alert["last_seen"]) == pytest.approx(positive[2] + 1.5, abs=0.3)
    payloads = {e["type"]: json.loads(e["payload"]) for e in timeline}
    assert payloads["alert.opened"]["last_seen"] == evidence_times["end"]
    for later in ("alert.updated", "alert.closed"):
        assert payloads[later]["last_seen"] == float(alert["last_seen"])
        assert payloads[later]["seen_for_s"] == pytest.approx(
            float(alert["last_seen"]) - float(alert["onset_at"]), abs=1e-3
        )
    # The evidence clip: a 2 s pre-roll before the onset to the confirming window's end.
    evidence = await aclient.lrange(keys.evidence(alert_id), 0, -1)
    assert len(evidence) == pytest.approx(4 * (positive[1] + 2 - positive[0] + 1.5), abs=2)
    assert all(frame[:2] == b"\xff\xd8" for frame in evidence)
    assert float(alert["evidence_clip_start"]) == pytest.approx(positive[0] - 1.5, abs=0.3)
    windows = [json.loads(w) for w in await aclient.lrange(keys.alert_windows(alert_id), 0, -1)]
    assert [w["type"] for w in windows] == [
        "streak", "alert.opened", "alert.updated", "alert.closed",
    ]  # fmt: skip
    assert [w["start"] for w in windows[:3]] == positive
    assert await aclient.scard(keys.open_alerts("dock")) == 0
    # The summary looked at the time before the opening window too.
    reason_starts = [start for mode, start in engine.calls if mode == "reason"]
    assert len(reason_starts) == 1
    assert reason_starts[0] < positive[1] - 2
    counters = await Counters(aclient, keys).all()
    # At least the three positive windows and the closing one.
    assert counters["windows_scheduled:dock"] >= 4
    calls = len(engine.calls)  # verdicts for every window processed, and one summary
    assert counters["engine_calls:dock"] == calls == counters["windows_processed:dock"] + 1
    assert counters["engine_prompt_tokens"] == 10 * calls  # the scripted usage
    assert counters["engine_latency_ms"] == calls
    assert await aclient.xpending(keys.jobs, "workers") == {
        "pending": 0,
        "min": None,
        "max": None,
        "consumers": [],
    }
    assert await aclient.xinfo_consumers(keys.jobs, "workers") == []  # a stopped worker left
    # Every analysed window went to the archive with its caption and verdicts, once.
    archived = [
        WindowRecord.from_fields(fields) for _, fields in await aclient.xrange(keys.archive)
    ]
    assert len(archived) == counters["windows_processed:dock"]
    assert [record.caption for record in archived] == [
        f"A scripted scene from {start:.3f}." for mode, start in engine.calls if mode == "verdicts"
    ]
    by_start = {record.start_ms / 1000: record for record in archived}
    assert [by_start[start].verdicts[0].detected for start in positive] == [True, True, True]
    for record in archived:
        assert record.unchanged_since is None
        assert [verdict.rule_id for verdict in record.verdicts] == ["lane"]
        assert record.thumbnail_ms is not None
        assert record.start_ms <= record.thumbnail_ms < record.end_ms


async def test_unparseable_answers_are_recorded_not_guessed(
    redis_client: redis.Redis, aclient: aioredis.Redis, keys: Keys
) -> None:
    await RuleStore(aclient, keys).seed([LANE])
    engine = ScriptedEngine(unparseable=True)
    with running_ingest(redis_client, keys, [camera("dock", demo_video_path().as_uri())]):
        async with running_pipeline(aclient, keys, engine, {"dock": 4.0}):

            async def recorded() -> bool:
                return bool(await aclient.xlen(keys.verdict_failures))

            await eventually(recorded, 20, "a recorded failure")
    failure = (await events(aclient, keys.verdict_failures))[0]
    assert failure["failure"] == "not JSON: scripted failure"
    assert failure["raw"] == "{}"
    assert await events(aclient, keys.alerts) == []
    assert (await Counters(aclient, keys).all())["verdicts_unparsed:dock"] >= 1


async def test_still_windows_are_skipped_except_for_heartbeats(
    redis_client: redis.Redis, aclient: aioredis.Redis, keys: Keys, still_video: Path
) -> None:
    await RuleStore(aclient, keys).seed([LANE])
    settings = FAST.model_copy(update={"motion_threshold": 0.02, "heartbeat_s": 6.0})
    engine = ScriptedEngine()
    with running_ingest(redis_client, keys, [camera("wall", still_video.as_uri())]):
        async with running_pipeline(aclient, keys, engine, {"wall": 4.0}, settings=settings):

            async def skipped() -> bool:
                counters = await Counters(aclient, keys).all()
                return counters.get("windows_skipped_still:wall", 0) >= 4

            await eventually(skipped, 30, "still windows skipped")
    counters = await Counters(aclient, keys).all()
    # The first window runs (its first frame counts as motion), then one in three.
    assert 1 <= counters["windows_scheduled:wall"] <= 3
    assert counters["windows_skipped_still:wall"] >= 4


async def test_a_still_window_after_a_positive_one_is_analysed_and_confirms_early(
    redis_client: redis.Redis, aclient: aioredis.Redis, keys: Keys, still_video: Path
) -> None:
    """An event that stays still: the camera shows no motion, the heartbeat finds it, the
    confirming window is cut ``confirm_stride_s`` later (overlapping), and every window
    after it is analysed while the alert is open."""
    await RuleStore(aclient, keys).seed([LANE])
    settings = FAST.model_copy(
        update={
            "window_s": 4.0, "stride_s": 4.0, "confirm_stride_s": 2.0,
            "motion_threshold": 0.02, "heartbeat_s": 8.0,
        }
    )  # fmt: skip
    engine = ScriptedEngine()
    with running_ingest(redis_client, keys, [camera("wall", still_video.as_uri())]):
        async with running_pipeline(aclient, keys, engine, {"wall": 4.0}, settings=settings):

            async def first_still_window_skipped() -> bool:
                counters = await Counters(aclient, keys).all()
                return counters.get("windows_skipped_still:wall", 0) >= 1

            await eventually(first_still_window_skipped, 30, "a still window skipped")
            before = len(engine.calls)
            engine.detect["lane"] = [(time.time() - 60, time.time() + 600)]

            async def opened() -> bool:
                return any(e["type"] == "alert.opened" for e in await events(aclient, keys.alerts))

            await eventually(opened, 30, "the alert to open")
            skipped = (await Counters(aclient, keys).all())["windows_skipped_still:wall"]
            found_at = len(engine.calls)
            await eventually(
                lambda: _calls_at_least(engine, found_at + 2), 20, "windows while open"
            )
    positive = [start for mode, start in engine.calls[before:] if mode == "verdicts"]
    first = positive[0]
    # Window starts are frame times: within a frame (0.25 s) of the window grid.
    assert positive[1] - first == pytest.approx(2.0, abs=0.3)  # the early confirmation
    gaps = [b - a for a, b in itertools.pairwise(positive[1:])]
    assert gaps
    assert all(gap == pytest.approx(4.0, abs=0.3) for gap in gaps)  # nothing skipped while open
    assert (await Counters(aclient, keys).all())["windows_skipped_still:wall"] == skipped
    alert_id = next(e["alert_id"] for e in await events(aclient, keys.alerts))
    alert = await aclient.hgetall(keys.alert(alert_id))
    assert float(alert[b"onset_at"]) == pytest.approx(first + 0.5, abs=0.3)


async def _calls_at_least(engine: ScriptedEngine, count: int) -> bool:
    return len(engine.calls) >= count
