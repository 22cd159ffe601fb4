"""Typed configuration: YAML, environment overrides, per-camera overrides, strictness."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from agent.runtime.config import ConfigError, load_settings
from agent.runtime.startup import camera_specs
from streams.ingest.demo import demo_video_path

CONFIG = {
    "ingest": {"fps": 4, "retention_s": 300},
    "cameras": [
        {"id": "dock-1", "url": "rtsp://u:pw@10.1.2.3/stream", "fps": 2, "max_pixels": 200704},
        {"id": "lobby", "url": "/videos/lobby.mp4"},
        {"id": "off", "url": "/videos/off.mp4", "enabled": False},
    ],
}


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "vigil.yaml"
    path.write_text(yaml.safe_dump(CONFIG))
    return path


def test_cameras_take_defaults_unless_overridden(config_file: Path) -> None:
    specs = {spec.id: spec for spec in camera_specs(load_settings(config_file))}
    assert set(specs) == {"dock-1", "lobby"}
    assert (specs["dock-1"].fps, specs["dock-1"].max_pixels) == (2.0, 200704)
    assert (specs["lobby"].fps, specs["lobby"].max_pixels) == (4.0, 448 * 252)
    assert specs["lobby"].retention_s == 300


def test_environment_overrides_the_file(config_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_INGEST__RETENTION_S", "120")
    monkeypatch.setenv("VIGIL_REDIS_URL", "redis://redis.internal:6379/0")
    settings = load_settings(config_file)
    assert settings.ingest.retention_s == 120
    assert settings.ingest.fps == 4
    assert settings.redis_url is not None
    assert "redis.internal" not in repr(settings)


def test_demo_camera_when_none_configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VIGIL_CONFIG", raising=False)
    (spec,) = camera_specs(load_settings())
    assert spec.id == "demo"
    assert spec.url.get_secret_value() == demo_video_path().as_uri()
    assert demo_video_path().stat().st_size > 100_000


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ingest": {"fps": 0}}, "ingest.fps"),
        ({"ingest": {"fsp": 4}}, "ingest.fsp: Extra inputs are not permitted"),
        ({"cameras": [{"id": "a b", "url": "/x.mp4"}]}, "cameras.0.id"),
        (
            {"cameras": [{"id": "a", "url": "/x.mp4"}, {"id": "a", "url": "/y.mp4"}]},
            "duplicate ids: a",
        ),
        ({"redis_cluster": True}, "redis_cluster needs redis_url"),
    ],
)
def test_invalid_settings_are_refused_with_their_location(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    path = tmp_path / "vigil.yaml"
    path.write_text(yaml.safe_dump(change))
    with pytest.raises(ConfigError, match=message):
        load_settings(path)


def test_unreadable_or_malformed_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("cameras: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(broken)
    listed = tmp_path / "list.yaml"
    listed.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_settings(listed)
