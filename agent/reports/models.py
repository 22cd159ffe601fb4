"""A report as it is stored, served and delivered: counts, a timeline, a written summary."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from streams.config import CAMERA_ID_PATTERN

PERIOD_MAX_S = 7 * 86_400
CAMERAS_MAX = 200


class ReportRequest(BaseModel):
    """What a report covers: cameras (none: every camera) and a period."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cameras: list[Annotated[str, Field(pattern=CAMERA_ID_PATTERN)]] = Field(
        default=[], max_length=CAMERAS_MAX, description="Empty: every camera."
    )
    since: float = Field(ge=0, le=1e11, description="Start of the period, epoch seconds.")
    until: float = Field(ge=0, le=1e11, description="End of the period, epoch seconds.")

    @model_validator(mode="after")
    def _a_period(self) -> ReportRequest:
        if not 0 < self.until - self.since <= PERIOD_MAX_S:
            raise ValueError(f"until must be after since and at most {PERIOD_MAX_S} s later")
        return self


class RuleCount(BaseModel):
    """One rule on one camera over the period, as history answers count it."""

    rule: str
    camera: str
    alerts: int
    windows: int = Field(description="Windows where the rule was detected.")
    occurrences: int = Field(description="Separate times: detections 90 s or more apart.")
    first: float | None = Field(description="Start of the first detection (epoch s).")
    last: float | None = Field(description="End of the last detection (epoch s).")


class TimelineEntry(BaseModel):
    """A notable stretch: an alert, or windows whose caption is not the scene's usual one."""

    kind: str = Field(description="alert or scene")
    camera: str
    start: float
    end: float
    text: str
    rule: str | None = None
    alert_id: str | None = None
    window: str | None = Field(default=None, description="The stretch's first window id.")
    tag: str | None = Field(default=None, description="How the summary cites it: [w3].")


class ReportWindow(BaseModel):
    """A window the summary could cite, with where its picture is."""

    tag: str
    window: str
    camera: str
    start: float
    end: float
    caption: str
    cited: bool


class Report(BaseModel):
    id: str
    schedule: str | None = None
    cameras: list[str]
    since: float
    until: float
    created_at: float
    notable: bool = Field(description="False: nothing happened, and no model call was made.")
    counts: list[RuleCount]
    timeline: list[TimelineEntry]
    summary: str
    summary_failure: str | None = None
    windows: list[ReportWindow]
    cited: list[str] = Field(description="Ids of the windows the summary cites, in its order.")
    windows_left_out: int = 0
    engine_calls: int = 0
    counts_are_lower_bounds: bool = False
