"""Settings of the MQTT publisher (the ``mqtt`` section of vigil.yaml; off when absent)."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

TOPIC_WILDCARDS = frozenset("+#/")
MAX_PORT = 65535


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
    commands: bool = Field(
        default=False,
        description="Accept ON/OFF on …/enabled/set and feedback on …/feedback/set topics "
        "(who may publish is the broker's ACL).",
    )
    command_allow: list[str] = Field(
        default=["*"],
        description="What commands may reach: camera ids, camera/rule pairs, * for any part.",
    )
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
        _check_port(parts.netloc.rpartition("]")[2].partition(":")[2])  # past an IPv6 host
        return url

    @field_validator("prefix", "discovery_prefix")
    @classmethod
    def _topic_level(cls, level: str) -> str:
        if not level or TOPIC_WILDCARDS & set(level):
            raise ValueError("must be one non-empty topic level without + # /")
        return level

    @field_validator("command_allow")
    @classmethod
    def _command_targets(cls, targets: list[str]) -> list[str]:
        for target in targets:
            parts = target.split("/")
            if len(parts) > 2 or not all(parts):
                raise ValueError(f"{target!r} must be a camera id or camera/rule (* allowed)")
        return targets

    def may_command(self, camera_id: str, rule_id: str | None = None) -> bool:
        """Commands are on and the camera (or camera and rule) is allowed to be switched."""
        wanted = [camera_id] if rule_id is None else [camera_id, rule_id]
        return self.commands and any(
            _matches(target.split("/"), wanted) for target in self.command_allow
        )

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or (8883 if self.tls else 1883)

    @property
    def tls(self) -> bool:
        return urlsplit(self.url).scheme == "mqtts"


def _check_port(port: str) -> None:
    """An explicit port must be a number from 1 to 65535 (checked here, not at connect)."""
    if port and not (port.isdigit() and 1 <= int(port) <= MAX_PORT):
        raise ValueError(f"mqtt.url: port {port!r} is not a TCP port (1-{MAX_PORT})")


def _matches(pattern: list[str], wanted: list[str]) -> bool:
    """A camera pattern allows its rules too; camera/rule allows only that rule."""
    if len(pattern) > len(wanted):
        return False
    return all(part in ("*", value) for part, value in zip(pattern, wanted, strict=False))
