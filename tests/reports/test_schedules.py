"""Report schedules, delivery once per period on real Redis across a scheduler restart,
and who receives a report's webhook."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from pydantic import ValidationError

from agent.archive.settings import ArchiveSettings
from agent.reports import runner as runner_module
from agent.reports.builder import ReportSources
from agent.reports.runner import ReportRunner
from agent.reports.schedules import ReportSchedule, ScheduleStore, period_ends
from agent.reports.store import ReportFilter, ReportStore
from agent.webhooks.report_body import report_body
from agent.webhooks.subscriptions import WebhookIn, matches, new_subscription
from streams.bus.keys import Keys

DAY = 86_400


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_periods_end_at_the_time_each_day_after_the_schedule_was_made() -> None:
    night = ReportSchedule(id="night", at="06:00", hours=8, created_at=at("2026-12-01T12:00"))
    assert period_ends(night, at("2026-12-03T05:59")) == [at("2026-12-02T06:00")]
    assert period_ends(night, at("2026-12-03T06:00")) == [
        at("2026-12-02T06:00"), at("2026-12-03T06:00"),
    ]  # fmt: skip
    long_ago = night.model_copy(update={"created_at": at("2026-01-01T00:00")})
    assert len(period_ends(long_ago, at("2026-12-20T07:00"))) == 7  # a week of catching up
    for bad in ("6:00", "25:00", "06:60", "0600"):
        with pytest.raises(ValidationError):
            ReportSchedule(id="x", at=bad, hours=8)
    with pytest.raises(ValidationError):
        ReportSchedule(id="x", at="06:00", hours=0)


async def test_each_period_is_made_and_delivered_once_across_restarts_and_a_crash(
    aclient: aioredis.Redis, keys: Keys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reports = await ReportStore.open(ArchiveSettings(), tmp_path)

    async def opener() -> tuple[ReportSources, ReportStore]:
        return ReportSources(aclient, keys, None, None, None), reports

    schedules = ScheduleStore(aclient, keys)
    stored = await schedules.put(ReportSchedule(id="night", at="06:00", hours=8))
    assert stored.created_at is not None
    await aclient.hset(keys.cameras, "dock", json.dumps({"id": "dock", "url": "rtsp://h/s"}))
    two_days_on = time.time() + 2 * DAY - 1  # two 06:00s after now, whatever now is

    original = runner_module.deliver
    calls = 0

    async def dies_first(*args: object, **kwargs: object) -> bool:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("the scheduler died before delivering")
        return await original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(runner_module, "deliver", dies_first)
    with pytest.raises(ConnectionError):
        await ReportRunner(aclient, keys, opener, "a").run_due(two_days_on)
    made = await ReportRunner(aclient, keys, opener, "b").run_due(two_days_on)
    assert len(made) == 2  # the two nights since the schedule was made, the first again
    assert await ReportRunner(aclient, keys, opener, "c").run_due(two_days_on) == []
    events = [fields for _, fields in await aclient.xrange(keys.outbox)]
    assert sorted(fields[b"report_id"].decode() for fields in events) == sorted(made)
    assert {fields[b"type"] for fields in events} == {b"report.ready"}
    assert sorted(await aclient.hkeys(keys.reports_done)) == sorted(m.encode() for m in made)
    listed = await reports.page(ReportFilter(schedule="night"), 10)
    assert sorted(report.id for report in listed) == sorted(made)
    first = listed[-1]
    assert (first.until - first.since, first.cameras) == (8 * 3600, ["dock"])
    assert not first.notable  # nothing archived: said so, no call
    assert first.engine_calls == 0


def test_a_report_goes_to_subscriptions_of_its_type_and_cameras_not_to_rule_filters() -> None:
    event = {"type": "report.ready", "camera": "dock,gate", "rule": "", "severity": ""}
    url = "https://hooks.example.com/x"

    def subscription(**filters: object) -> object:
        return new_subscription(WebhookIn(url=url, **filters), "whsec_x")  # type: ignore[arg-type]

    assert matches(subscription(), event)  # type: ignore[arg-type]
    assert matches(subscription(event_types=["report.ready"], cameras=["gate"]), event)  # type: ignore[arg-type]
    assert not matches(subscription(cameras=["lobby"]), event)  # type: ignore[arg-type]
    assert not matches(subscription(event_types=["alert.opened"]), event)  # type: ignore[arg-type]
    assert not matches(subscription(rules=["lane"]), event)  # type: ignore[arg-type]
    body = json.loads(report_body({**event, "report_id": "night-1"}, "https://v.example", 0.0))
    assert body["type"] == "report.ready"
    assert body["data"]["links"]["print"] == "https://v.example/v1/reports/night-1/print"
