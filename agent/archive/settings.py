"""Settings of the archive (the ``archive`` section of vigil.yaml): where the history of
analysed windows lives, how long it is kept and how it is written."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

S3_SCHEME = "s3://"


class S3Settings(BaseModel):
    """An S3-compatible object store; what is left unset comes from the environment
    (``AWS_*`` variables, an instance role)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoint_url: str | None = Field(
        default=None, description="http(s)://host[:port] of the store; unset: AWS itself."
    )
    region: str = "us-east-1"
    access_key_id: str | None = None
    secret_access_key: SecretStr | None = None
    allow_http: bool = Field(
        default=False, description="Allow a plain-http endpoint (a store on a private network)."
    )

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint(cls, url: str | None) -> str | None:
        if url is None:
            return None
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("archive.s3.endpoint_url must be http(s)://host[:port]")
        if parts.username or parts.password:
            raise ValueError("archive.s3.endpoint_url must not carry credentials")
        return url.rstrip("/")

    @model_validator(mode="after")
    def _consistent(self) -> S3Settings:
        if (self.access_key_id is None) != (self.secret_access_key is None):
            raise ValueError(
                "archive.s3 needs both access_key_id and secret_access_key, or neither"
            )
        if self.endpoint_url and self.endpoint_url.startswith("http:") and not self.allow_http:
            raise ValueError("archive.s3.endpoint_url is plain http: set allow_http to use it")
        return self

    def storage_options(self) -> dict[str, str]:
        """The object-store options LanceDB takes; they hold the secret: never log them."""
        options = {"aws_region": self.region}
        if self.endpoint_url:
            options["aws_endpoint"] = self.endpoint_url
        if self.allow_http:
            options["allow_http"] = "true"
        if self.access_key_id and self.secret_access_key:
            options["aws_access_key_id"] = self.access_key_id
            options["aws_secret_access_key"] = self.secret_access_key.get_secret_value()
        return options


class ArchiveSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    uri: str | None = Field(
        default=None,
        description="A directory (relative ones under the data dir) or s3://bucket[/prefix]; "
        "unset: <data_dir>/archive.",
    )
    s3: S3Settings | None = None
    embedding_model: str = Field(
        default="all-MiniLM-L6-v2", description="Embeds captions for search by meaning."
    )
    retention_days: Annotated[
        float, Field(gt=0, description="Windows older than this are deleted.")
    ] = 30.0
    batch_rows: Annotated[int, Field(ge=1, description="Most windows in one commit.")] = 100
    batch_s: Annotated[float, Field(gt=0, description="Longest wait to fill a commit.")] = 2.0
    optimize_every_s: Annotated[
        float, Field(gt=0, description="How often files are compacted and indexes updated.")
    ] = 3600.0
    thumbnail_width: Annotated[int, Field(ge=16, le=1920)] = 320
    read_consistency_s: Annotated[
        float,
        Field(ge=0, description="How stale a reader's view of other processes' writes may be."),
    ] = 1.0

    @field_validator("uri")
    @classmethod
    def _uri(cls, uri: str | None) -> str | None:
        if uri is None:
            return None
        if "://" in uri and not uri.startswith(S3_SCHEME):
            raise ValueError("archive.uri must be a directory or s3://bucket[/prefix]")
        if uri.startswith(S3_SCHEME) and not uri[len(S3_SCHEME) :].strip("/"):
            raise ValueError("archive.uri s3://… must name a bucket")
        return uri.rstrip("/") or uri

    @model_validator(mode="after")
    def _s3_only_with_s3_uri(self) -> ArchiveSettings:
        if self.s3 is not None and not self.on_s3:
            raise ValueError("archive.s3 is set but archive.uri is not s3://bucket[/prefix]")
        return self

    @property
    def on_s3(self) -> bool:
        return self.uri is not None and self.uri.startswith(S3_SCHEME)

    def resolved_uri(self, data_dir: Path) -> str:
        if self.uri is None:
            return str((data_dir / "archive").resolve())
        if self.on_s3:
            return self.uri
        return str((data_dir / self.uri).resolve())

    def storage_options(self) -> dict[str, str]:
        """What LanceDB needs to reach the store: {} for a directory (and for S3 set up
        by the environment alone)."""
        if not self.on_s3 or self.s3 is None:
            return {}
        return self.s3.storage_options()


class EvalSettings(BaseModel):
    """The footage kept so that feedback given hours later still has it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    context_before_s: float = Field(
        default=20.0, ge=0, le=300, description="Context clip: seconds kept before an onset."
    )
    context_after_s: float = Field(
        default=20.0, ge=0, le=300, description="Context clip: seconds kept after the close."
    )
    context_max_s: float = Field(
        default=300.0, gt=0, le=1800, description="Context clip: the longest kept."
    )

    def bounds(self, onset_s: float, end_s: float) -> tuple[float, float]:
        """The context clip of an event from ``onset_s`` to ``end_s``, cut at its longest."""
        start = onset_s - self.context_before_s
        return start, min(end_s + self.context_after_s, start + self.context_max_s)
