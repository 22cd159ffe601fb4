"""Settings of the MQTT publisher (the ``mqtt`` section of vigil.yaml; off when absent)."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

TOPIC_WILDCARDS = frozenset("+#/")


class MqttSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(description="mqtt://host[:port] or mqtts://host[:port] of the broker.")
    username: str | None = None
    password: SecretStr | None = None
    client_id: str = Field(default_factory=lambda: f"vigil-{socket.gethostname()}")
    prefix: str = Field(default="vigil", description="First level of every topic Vigil uses.")
    qos: Literal[0, 1, 2] = 1
    tls_ca: Path | None = Field(default=None, description="CA bundle that signs the broker.")
    discovery_prefix: str = "homeassistant"
    status_poll_s: Annotated[
        float, Field(gt=0, description="How often camera health is read for status topics.")
    ] = 5.0
    backoff_initial_s: Annotated[float, Field(gt=0)] = 1.0
    # Under the 60 s the liveness probe allows: a down broker must not restart the process.
    backoff_cap_s: Annotated[
        float, Field(gt=0, le=45, description="Longest wait between tries.")
    ] = 30.0

    @field_validator("url")
    @classmethod
    def _broker_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError("mqtt.url must be mqtt://host[:port] or mqtts://host[:port]")
        if parts.username or parts.password:
            raise ValueError("mqtt.url must not carry credentials: use username and password")
        return url

    @field_validator("prefix", "discovery_prefix")
    @classmethod
    def _topic_level(cls, level: str) -> str:
        if not level or TOPIC_WILDCARDS & set(level):
            raise ValueError("must be one non-empty topic level without + # /")
        return level

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or (8883 if self.tls else 1883)

    @property
    def tls(self) -> bool:
        return urlsplit(self.url).scheme == "mqtts"
