"""Report schedules: a report every day at a UTC time over the hours before it, on some
cameras (none: every camera). Seeded from vigil.yaml's ``reports``, edited through the API.

A schedule's periods end at its ``at`` time each day; a period is due once its end has
passed, and only periods ending after the schedule was made (at most ``BACKFILL_DAYS``
ago) are made, so a new schedule does not write a week of reports at once and a
scheduler that was down catches up on the days it missed.
"""

from __future__ import annotations

import logging
import time as clock
from datetime import UTC, datetime, timedelta
from datetime import time as day_time
from typing import Annotated, cast

import redis.asyncio as aioredis
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agent.reports.models import CAMERAS_MAX
from streams.bus.keys import Keys
from streams.config import CAMERA_ID_PATTERN

log = logging.getLogger(__name__)

BACKFILL_DAYS = 7
SCHEDULE_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"


class ReportSchedule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(pattern=SCHEDULE_ID_PATTERN)]
    at: str = Field(description="UTC time of day the report is made, HH:MM; its period ends then.")
    hours: Annotated[float, Field(gt=0, le=168, description="Length of the period.")]
    cameras: list[Annotated[str, Field(pattern=CAMERA_ID_PATTERN)]] = Field(
        default=[], max_length=CAMERAS_MAX, description="Empty: every camera."
    )
    enabled: bool = True
    created_at: float | None = Field(
        default=None, description="When it was first stored (epoch s); set by Vigil."
    )

    @field_validator("at")
    @classmethod
    def _time_of_day(cls, value: str) -> str:
        if len(value) != 5 or value[2] != ":":
            raise ValueError("at must look like 06:00")
        day_time.fromisoformat(value)  # says why 25:00 is not a time
        return value


def period_ends(schedule: ReportSchedule, now_s: float) -> list[float]:
    """The ends of the schedule's periods that are due by ``now_s``, oldest first."""
    hour, minute = (int(part) for part in schedule.at.split(":"))
    now = datetime.fromtimestamp(now_s, tz=UTC)
    end = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if end > now:
        end -= timedelta(days=1)
    earliest = max(schedule.created_at or now_s, now_s - BACKFILL_DAYS * 86_400)
    ends = []
    while end.timestamp() > earliest:
        ends.append(end.timestamp())
        end -= timedelta(days=1)
    return sorted(ends)


def scheduled_report_id(schedule: ReportSchedule, end_s: float) -> str:
    stamp = datetime.fromtimestamp(end_s, tz=UTC).strftime("%Y%m%dT%H%MZ")
    return f"{schedule.id}-{stamp}"


class ScheduleStore:
    def __init__(self, client: aioredis.Redis, keys: Keys) -> None:
        self._client = client
        self._key = keys.report_schedules

    async def seed(self, schedules: list[ReportSchedule]) -> None:
        """Adds the configured schedules Redis does not hold yet; stored edits win."""
        for schedule in schedules:
            await self._client.hsetnx(self._key, schedule.id, _stamped(schedule).model_dump_json())

    async def all(self) -> list[ReportSchedule]:
        raw = cast(dict[bytes, bytes], await self._client.hgetall(self._key))
        schedules = []
        for schedule_id, document in sorted(raw.items()):
            try:
                schedules.append(ReportSchedule.model_validate_json(document))
            except ValidationError:
                log.error("report schedule %s in Redis is invalid and is ignored", schedule_id)
        return schedules

    async def get(self, schedule_id: str) -> ReportSchedule | None:
        document = await self._client.hget(self._key, schedule_id)
        return None if document is None else ReportSchedule.model_validate_json(document)

    async def put(self, schedule: ReportSchedule) -> ReportSchedule:
        """Stores it, keeping when a stored one of its id was first made."""
        stored = await self.get(schedule.id)
        created = stored.created_at if stored is not None else None
        kept = _stamped(schedule.model_copy(update={"created_at": created}))
        await self._client.hset(self._key, schedule.id, kept.model_dump_json())
        return kept

    async def delete(self, schedule_id: str) -> bool:
        return bool(await self._client.hdel(self._key, schedule_id))


def _stamped(schedule: ReportSchedule) -> ReportSchedule:
    if schedule.created_at is not None:
        return schedule
    return schedule.model_copy(update={"created_at": round(clock.time(), 3)})
