"""Vigil's settings: the YAML file (``vigil.yaml``) under ``VIGIL_*`` environment overrides.

Precedence, highest first: environment (``VIGIL_REDIS_URL``, ``VIGIL_INGEST__FPS``, …),
the YAML file, the defaults below. With no cameras configured, the demo camera is used.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from agent.api.settings import ApiSettings
from agent.archive.settings import ArchiveSettings, EvalSettings
from agent.engines.settings import EngineSettings
from agent.mqtt.settings import MqttSettings
from agent.pipeline.rules import Rule
from agent.pipeline.settings import AlertSettings, PipelineSettings
from agent.reports.schedules import ReportSchedule
from agent.webhooks.settings import WebhookSettings
from streams.bus.keys import DEFAULT_PREFIX
from streams.config import CameraConfig, IngestSettings

CONFIG_ENV = "VIGIL_CONFIG"
DEFAULT_CONFIG_FILE = Path("vigil.yaml")


class ConfigError(ValueError):
    """The configuration cannot be used; the message says where and why."""


class VigilSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="VIGIL_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    redis_url: SecretStr | None = Field(
        default=None, description="redis:// or unix:// URL; unset starts an embedded server."
    )
    redis_cluster: bool = Field(
        default=False, description="redis_url is a node of a Redis Cluster (needs redis_url)."
    )
    key_prefix: str = DEFAULT_PREFIX
    data_dir: Path = Field(
        default=Path(".vigil"), description="Embedded Redis data, logs and other local state."
    )
    log_level: str = "INFO"
    ingest: IngestSettings = IngestSettings()
    engine: EngineSettings = EngineSettings()
    pipeline: PipelineSettings = PipelineSettings()
    alerts: AlertSettings = AlertSettings()
    api: ApiSettings = ApiSettings()
    webhooks: WebhookSettings = WebhookSettings()
    mqtt: MqttSettings | None = Field(default=None, description="MQTT publisher; off when unset.")
    archive: ArchiveSettings = ArchiveSettings()
    eval: EvalSettings = Field(
        default=EvalSettings(), description="Footage kept around alerts for feedback and eval."
    )
    cameras: list[CameraConfig] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)
    reports: list[ReportSchedule] = Field(
        default_factory=list, description="Reports made every day (seed the stored schedules)."
    )

    @field_validator("cameras", "rules")
    @classmethod
    def _unique_ids(cls, items: list[CameraConfig] | list[Rule]) -> list[CameraConfig] | list[Rule]:
        ids = [item.id for item in items]
        duplicates = sorted({item_id for item_id in ids if ids.count(item_id) > 1})
        if duplicates:
            raise ValueError(f"duplicate ids: {', '.join(duplicates)}")
        return items

    @model_validator(mode="after")
    def _cluster_needs_url(self) -> VigilSettings:
        if self.redis_cluster and self.redis_url is None:
            raise ValueError("redis_cluster needs redis_url: the embedded Redis is one server")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (env_settings, init_settings)


def config_path(explicit: Path | None) -> Path | None:
    if explicit is not None:
        return explicit
    from_env = os.environ.get(CONFIG_ENV)
    if from_env:
        return Path(from_env)
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.is_file() else None


def load_settings(path: Path | None = None) -> VigilSettings:
    """Settings from the YAML file (explicit, ``$VIGIL_CONFIG`` or ./vigil.yaml) and env."""
    file_values = _read_yaml(config_path(path))
    try:
        return VigilSettings(**file_values)
    except ValidationError as error:
        raise ConfigError(_describe(error)) from None


def _read_yaml(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        loaded = yaml.safe_load(path.read_text()) or {}
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"config file {path} is not valid YAML: {error}") from None
    if not isinstance(loaded, dict):
        raise ConfigError(f"config file {path} must hold a mapping at the top level")
    return loaded


def _describe(error: ValidationError) -> str:
    """Validation errors without the offending values: a camera URL may hold a password."""
    lines = [
        f"{'.'.join(str(part) for part in item['loc']) or 'settings'}: {item['msg']}"
        for item in error.errors(include_input=False, include_url=False)
    ]
    return "invalid configuration:\n  " + "\n  ".join(lines)
