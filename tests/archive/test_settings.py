from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from agent.archive.settings import ArchiveSettings, S3Settings

SECRET = "very-secret-key"


def s3(**overrides: object) -> S3Settings:
    fields: dict[str, object] = {
        "endpoint_url": "https://objects.example.com:9000/",
        "region": "eu-west-1",
        "access_key_id": "vigil",
        "secret_access_key": SECRET,
    }
    return S3Settings.model_validate(fields | overrides)


def test_the_archive_defaults_to_a_folder_of_the_data_dir(tmp_path: Path) -> None:
    settings = ArchiveSettings()
    assert settings.resolved_uri(tmp_path) == str(tmp_path.resolve() / "archive")
    assert settings.storage_options() == {}


def test_a_relative_folder_is_under_the_data_dir_and_an_absolute_one_is_itself(
    tmp_path: Path,
) -> None:
    assert ArchiveSettings(uri="history").resolved_uri(tmp_path) == str(tmp_path / "history")
    elsewhere = tmp_path / "elsewhere"
    assert ArchiveSettings(uri=str(elsewhere)).resolved_uri(Path("/data")) == str(elsewhere)


def test_s3_gives_lancedb_its_endpoint_region_and_keys(tmp_path: Path) -> None:
    settings = ArchiveSettings(uri="s3://bucket/vigil/", s3=s3())
    assert settings.resolved_uri(tmp_path) == "s3://bucket/vigil"
    assert settings.storage_options() == {
        "aws_region": "eu-west-1",
        "aws_endpoint": "https://objects.example.com:9000",
        "aws_access_key_id": "vigil",
        "aws_secret_access_key": SECRET,
    }


def test_plain_http_needs_allow_http() -> None:
    with pytest.raises(ValidationError, match="allow_http"):
        s3(endpoint_url="http://minio:9000")
    options = s3(endpoint_url="http://minio:9000", allow_http=True).storage_options()
    assert options["allow_http"] == "true"


def test_the_secret_never_shows_in_repr_or_dumps() -> None:
    settings = ArchiveSettings(uri="s3://bucket", s3=s3())
    assert SECRET not in repr(settings)
    assert SECRET not in str(settings)
    assert SECRET not in settings.model_dump_json()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"uri": "gs://bucket"}, "s3://bucket"),
        ({"uri": "s3://"}, "bucket"),
        ({"uri": "/srv/archive", "s3": {}}, "not s3://"),
        ({"retention_days": 0}, "greater than 0"),
        ({"batch_rows": 0}, "greater than or equal to 1"),
        ({"unknown": 1}, "Extra inputs"),
        ({"uri": "s3://b", "s3": {"access_key_id": "only-half"}}, "both"),
        ({"uri": "s3://b", "s3": {"endpoint_url": "https://u:p@host"}}, "credentials"),
    ],
)
def test_bad_settings_are_refused(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ArchiveSettings.model_validate(fields)
