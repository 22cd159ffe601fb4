"""Rules: natural-language questions about cameras, with how their answers become alerts."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from streams.config import CAMERA_ID_PATTERN
from streams.zones import ZONE_NAME_PATTERN

RULE_ID_PATTERN = CAMERA_ID_PATTERN
ALL_CAMERAS = "*"
RULE_ZONES_MAX = 4  # outlines one rule adds to the picture the model is sent
_HOURS = re.compile(r"^(?P<start>\d{2}:\d{2})-(?P<end>\d{2}:\d{2})$")


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(pattern=RULE_ID_PATTERN)]
    question: Annotated[str, Field(min_length=3, max_length=500)]
    cameras: list[str] = Field(default=[ALL_CAMERAS], min_length=1)
    severity: Severity = Severity.WARNING
    threshold: Annotated[float, Field(ge=0, le=1, description="Minimum confidence.")] = 0.5
    consecutive: Annotated[int, Field(ge=1, le=100, description="Positive windows to open.")] = 1
    cooldown_s: Annotated[float, Field(ge=0, description="Quiet time after a close.")] = 60.0
    close_after_s: Annotated[
        float, Field(gt=0, description="Time without a positive window that closes an alert.")
    ] = 30.0
    active_hours: Annotated[
        list[str], Field(description="UTC ranges like 22:00-06:00; empty means always.")
    ] = []
    motion_gated: bool = True
    zones: list[Annotated[str, Field(pattern=ZONE_NAME_PATTERN)]] = Field(
        default=[],
        max_length=RULE_ZONES_MAX,
        description="Zones of each camera the rule is about; empty: the whole picture.",
    )
    zone_crop: bool = Field(
        default=False,
        description="Send the model only the zones' bounding box (plus a margin), enlarged.",
    )
    enabled: bool = True
    disabled_cameras: list[str] = Field(
        default=[], description="Cameras the rule is switched off on, the rest keep it."
    )

    @field_validator("zones")
    @classmethod
    def _distinct_zones(cls, zones: list[str]) -> list[str]:
        if len(set(zones)) != len(zones):
            raise ValueError("a zone is named twice")
        return zones

    @model_validator(mode="after")
    def _crop_needs_zones(self) -> Rule:
        if self.zone_crop and not self.zones:
            raise ValueError("zone_crop needs the zones to crop to")
        return self

    @field_validator("active_hours")
    @classmethod
    def _valid_ranges(cls, ranges: list[str]) -> list[str]:
        for value in ranges:
            match = _HOURS.match(value)
            if match is None:
                raise ValueError(f"active hours {value!r} must look like 22:00-06:00")
            for part in (match["start"], match["end"]):
                time.fromisoformat(part)  # raises on 25:00 and the like, saying why
        return ranges

    def covers(self, camera_id: str) -> bool:
        """The camera is one the rule is about, whether switched on there or not."""
        return ALL_CAMERAS in self.cameras or camera_id in self.cameras

    def enabled_on(self, camera_id: str) -> bool:
        return self.enabled and camera_id not in self.disabled_cameras

    def applies_to(self, camera_id: str) -> bool:
        return self.covers(camera_id) and self.enabled_on(camera_id)

    def switched(self, camera_id: str, on: bool) -> Rule:
        """The rule switched on or off for one camera, the others unchanged."""
        others = [camera for camera in self.disabled_cameras if camera != camera_id]
        return self.model_copy(update={"disabled_cameras": others if on else [*others, camera_id]})

    def active_at(self, epoch_s: float) -> bool:
        if not self.active_hours:
            return True
        moment = datetime.fromtimestamp(epoch_s, tz=UTC).time()
        return any(_within(moment, value) for value in self.active_hours)


def _within(moment: time, value: str) -> bool:
    match = _HOURS.match(value)
    assert match is not None
    start, end = time.fromisoformat(match["start"]), time.fromisoformat(match["end"])
    if start <= end:
        return start <= moment < end
    return moment >= start or moment < end  # crosses midnight


def rules_for(rules: list[Rule], camera_id: str, epoch_s: float) -> list[Rule]:
    """The rules that ask about this camera at this time."""
    return [rule for rule in rules if rule.applies_to(camera_id) and rule.active_at(epoch_s)]
