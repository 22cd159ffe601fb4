"""Feedback as people give it and alerts keep it: ``confirmed`` (the alert was right, with
the event's true onset and end where the alert had them wrong) or ``false_alarm``."""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

NOTE_MAX = 500
EPOCH_MAX = 1e11


class Verdict(StrEnum):
    CONFIRMED = "confirmed"
    FALSE_ALARM = "false_alarm"


MISSED = "missed"  # the count of events an alert should have opened for and did not


class FeedbackIn(BaseModel):
    """Feedback as a person gives it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    verdict: Verdict
    note: Annotated[str, Field(max_length=NOTE_MAX)] = ""
    onset: Annotated[
        float | None,
        Field(ge=0, le=EPOCH_MAX, description="Confirmed only: the event's true onset (epoch s)."),
    ] = None
    end: Annotated[
        float | None,
        Field(ge=0, le=EPOCH_MAX, description="Confirmed only: the event's true end (epoch s)."),
    ] = None

    @model_validator(mode="after")
    def _times_fit(self) -> FeedbackIn:
        if self.verdict is Verdict.FALSE_ALARM and (self.onset is not None or self.end is not None):
            raise ValueError("a false alarm has no onset or end: there was no event")
        if self.onset is not None and self.end is not None and self.end <= self.onset:
            raise ValueError("end must be after onset")
        return self


class AlertFeedback(FeedbackIn):
    """Feedback as the alert keeps it: with who gave it and when."""

    by: str
    at: float


def feedback_of(given: FeedbackIn, by: str, at_s: float | None = None) -> AlertFeedback:
    at = round(time.time() if at_s is None else at_s, 3)
    return AlertFeedback(**given.model_dump(), by=by, at=at)
