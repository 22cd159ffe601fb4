"""The ``mqtt`` section: off when absent, strict about the broker URL and topic levels."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from agent.cli.app import app
from agent.mqtt.settings import MqttSettings
from agent.runtime.config import VigilSettings


def test_mqtt_is_off_unless_configured() -> None:
    assert VigilSettings().mqtt is None


def test_the_url_gives_host_port_and_tls() -> None:
    plain = MqttSettings(url="mqtt://broker.local")
    secure = MqttSettings(url="mqtts://broker.local")
    assert (plain.host, plain.port, plain.tls) == ("broker.local", 1883, False)
    assert (secure.port, secure.tls) == (8883, True)
    assert MqttSettings(url="mqtt://10.0.0.5:1884").port == 1884


@pytest.mark.parametrize(
    "url", ["http://broker.local", "broker.local:1883", "mqtt://", "mqtt://u:p@broker.local"]
)
def test_a_url_that_is_not_a_broker_is_refused(url: str) -> None:
    with pytest.raises(ValidationError):
        MqttSettings(url=url)


@pytest.mark.parametrize("prefix", ["", "a/b", "vigil+", "#"])
def test_a_prefix_must_be_one_topic_level(prefix: str) -> None:
    with pytest.raises(ValidationError):
        MqttSettings(url="mqtt://broker.local", prefix=prefix)


def test_the_password_is_never_shown() -> None:
    settings = MqttSettings.model_validate({"url": "mqtt://b", "password": "hunter22"})
    assert "hunter22" not in repr(settings)
    assert "hunter22" not in settings.model_dump_json()


@pytest.mark.parametrize("url", ["mqtt://host:99999", "mqtt://host:0", "mqtts://[::1]:70000"])
def test_a_port_out_of_range_is_refused_at_start_not_at_connect(url: str) -> None:
    with pytest.raises(ValidationError, match="is not a TCP port"):
        MqttSettings(url=url)


def test_vigil_up_stops_with_a_clear_message_and_exit_code_2(tmp_path: Path) -> None:
    config = tmp_path / "vigil.yaml"
    config.write_text("mqtt:\n  url: mqtt://host:99999\n")
    result = CliRunner().invoke(app, ["up", "--config", str(config)])
    assert result.exit_code == 2
    assert "mqtt.url: Value error, mqtt.url: port '99999' is not a TCP port" in result.output
