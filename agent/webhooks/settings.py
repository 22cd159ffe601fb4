"""Settings of webhook delivery (the ``webhooks`` section of vigil.yaml)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, IPvAnyNetwork


class WebhookSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    retry_for_s: Annotated[
        float, Field(gt=0, description="How long a message is retried before it is dead.")
    ] = 24 * 3600.0
    backoff_initial_s: Annotated[float, Field(gt=0)] = 1.0
    backoff_cap_s: Annotated[float, Field(gt=0, description="Longest wait between tries.")] = 600.0
    timeout_s: Annotated[float, Field(gt=0, description="Per-request time limit.")] = 10.0
    max_response_bytes: Annotated[
        int, Field(ge=0, description="Response body read at most; more fails the try.")
    ] = 64 * 1024
    allow_hosts: list[str] = Field(
        default_factory=list,
        description="Hosts (exactly as written in the URL) that may be private or loopback.",
    )
    allow_networks: list[IPvAnyNetwork] = Field(
        default_factory=list, description="Private networks that targets may resolve into."
    )
    log_max_len: Annotated[int, Field(ge=10, description="Delivery attempts kept per hook.")] = 1000
    poll_s: Annotated[
        float, Field(gt=0, description="How often idle queues are looked at again.")
    ] = 0.5
    lease_s: Annotated[float, Field(gt=0, description="A dispatcher's hold on a hook.")] = 30.0
