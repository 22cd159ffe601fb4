"""Settings of the reasoning pipeline: windows, gating, freshness, workers, summaries."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class EvidenceSettings(BaseModel):
    """What an alert keeps as its evidence clip."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    preroll_s: Annotated[
        float, Field(ge=0, le=30, description="Time kept before the event's onset.")
    ] = 2.0
    max_s: Annotated[
        float, Field(gt=0, le=120, description="Longest evidence clip; the newest part is kept.")
    ] = 60.0


class AlertSettings(BaseModel):
    """How long alerts stay in Redis (the ``alerts`` section of vigil.yaml)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hot_retention_h: Annotated[
        float,
        Field(
            gt=0,
            description="A closed alert stays in Redis this long after it closed, then is "
            "served from the archive (with its evidence clip) only.",
        ),
    ] = 24.0
    summary_wait_s: Annotated[
        float,
        Field(
            ge=0,
            description="How long a closed alert waits for its root-cause summary before it "
            "is archived without one (a summary that comes later reaches the archive when "
            "the alert leaves Redis).",
        ),
    ] = 600.0
    archive_every_s: Annotated[
        float,
        Field(gt=0, description="How often closed alerts are archived and moved out of Redis."),
    ] = 30.0


class PipelineSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    window_s: Annotated[float, Field(gt=0, le=60, description="Clip window length.")] = 8.0
    stride_s: Annotated[float, Field(gt=0, le=60, description="Start-to-start spacing.")] = 8.0
    confirm_stride_s: Annotated[
        float,
        Field(
            gt=0, le=60,
            description="Start-to-start spacing while a positive streak awaits confirmation: "
            "the confirming window is cut this soon after the positive one, overlapping it "
            "(at most stride_s).",
        ),
    ] = 4.0  # fmt: skip
    verdict_wait_s: Annotated[
        float,
        Field(
            ge=0,
            description="How long the next window of a camera waits for the verdict of the "
            "one before it, which decides whether it is forced or may be skipped as still.",
        ),
    ] = 10.0
    motion_threshold: Annotated[
        float, Field(ge=0, le=1, description="Share of changed thumbnail that counts as motion.")
    ] = 0.02
    heartbeat_s: Annotated[
        float, Field(gt=0, description="A still camera is still looked at this often.")
    ] = 60.0
    max_window_age_s: Annotated[
        float, Field(gt=0, description="Windows older than this when a worker is free are shed.")
    ] = 30.0
    min_frame_share: Annotated[
        float, Field(gt=0, le=1, description="Windows with fewer of their frames are skipped.")
    ] = 0.5
    scheduler_poll_s: Annotated[float, Field(gt=0)] = 0.5
    jobs_max_len: Annotated[int, Field(ge=100, description="Bound on the job stream.")] = 10_000
    worker_concurrency: Annotated[
        int, Field(ge=1, le=256, description="Engine calls in flight per worker.")
    ] = 8
    claim_idle_s: Annotated[
        float,
        Field(
            gt=0,
            description="A job its worker has not renewed for this long (the worker died or "
            "stalled; a live one renews every third of it) is taken over by another worker.",
        ),
    ] = 60.0
    max_deliveries: Annotated[int, Field(ge=1, description="Tries before a dead letter.")] = 5
    summary_context_s: Annotated[
        float, Field(ge=0, description="Time before the opening window shown to the summary.")
    ] = 30.0
    summary_fps: Annotated[float, Field(gt=0, le=4)] = 1.0
    evidence: EvidenceSettings = EvidenceSettings()
