"""Settings of the HTTP API (the ``api`` section of vigil.yaml)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class ApiSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field(default="127.0.0.1", description="Address the API listens on.")
    port: Annotated[int, Field(ge=0, le=65535, description="0 picks a free port.")] = 8080
    public_url: str | None = Field(
        default=None, description="Base URL in links (webhooks); default http://host:port."
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed by CORS; empty means none."
    )
    ask_timeout_s: Annotated[float, Field(gt=0, description="Longest /v1/ask call.")] = 120.0
    history_timeout_s: Annotated[
        float,
        Field(gt=0, description="Longest question over history: archive reads and the call."),
    ] = 150.0
    report_timeout_s: Annotated[
        float, Field(gt=0, description="Longest report made on request: reads and calls.")
    ] = 300.0
    ask_max_seconds: Annotated[float, Field(gt=0, le=600)] = 60.0
    ask_max_frames: Annotated[int, Field(ge=2, le=256)] = 64
    clip_max_s: Annotated[float, Field(gt=0, le=600, description="Longest clip.mp4.")] = 120.0
    page_max: Annotated[int, Field(ge=1, le=1000, description="Largest alerts page.")] = 200
    sse_keepalive_s: Annotated[float, Field(gt=0)] = 15.0
    max_body_bytes: Annotated[
        int, Field(ge=1024, description="Largest request body (bytes); 413 over it.")
    ] = 1_048_576
    body_limits: dict[str, Annotated[int, Field(ge=1024)]] = Field(
        default_factory=lambda: {"/v1/ask": 65_536},
        description="Largest body (bytes) by path prefix, the longest match winning; "
        "other paths have max_body_bytes.",
    )
    search_timeout_s: Annotated[
        float, Field(gt=0, description="Time budget of one /v1/search; 504 over it.")
    ] = 10.0
    encodes_max: Annotated[
        int, Field(ge=1, description="clip.mp4 and evidence.mp4 encoded at once; 429 beyond.")
    ] = 2
    questions_max: Annotated[
        int, Field(ge=1, description="/v1/ask and /v1/search answered at once; 429 beyond.")
    ] = 8
    questions_max_per_key: Annotated[
        int, Field(ge=1, description="/v1/ask and /v1/search of one API key at once.")
    ] = 4
    sse_max_per_key: Annotated[
        int, Field(ge=1, description="Open /v1/events streams per API key; 429 beyond.")
    ] = 8
    sse_max_total: Annotated[
        int, Field(ge=1, description="Open /v1/events streams in all; 429 beyond.")
    ] = 64
    shutdown_grace_s: Annotated[float, Field(gt=0)] = 5.0

    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        return f"http://{self.host}:{self.port}"
