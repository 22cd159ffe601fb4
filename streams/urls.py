"""Camera URLs: which schemes ingest reads, and how to show a URL without its password."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

SUPPORTED_SCHEMES = ("rtsp", "rtsps", "file")
MASK = "***"

# scheme://user:password@host  ->  the password part, wherever it appears in a text.
_USERINFO_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]*:)[^@\s/]*@")


class CameraUrlError(ValueError):
    """A camera URL that ingest cannot read. The message never contains the password."""


@dataclass(frozen=True, slots=True)
class CameraUrl:
    scheme: str
    raw: str
    path: Path | None  # set for file sources
    password: str | None

    @property
    def is_file(self) -> bool:
        return self.scheme == "file"


def parse_camera_url(url: str) -> CameraUrl:
    if "://" not in url:
        return CameraUrl(scheme="file", raw=url, path=Path(url), password=None)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in SUPPORTED_SCHEMES:
        raise CameraUrlError(
            f"unsupported camera URL scheme {scheme!r} in {mask_url(url)}; "
            f"expected one of {', '.join(SUPPORTED_SCHEMES)}"
        )
    if scheme == "file":
        return CameraUrl(scheme="file", raw=url, path=Path(unquote(parts.path)), password=None)
    if not parts.hostname:
        raise CameraUrlError(f"camera URL {mask_url(url)} has no host")
    password = unquote(parts.password) if parts.password else None
    return CameraUrl(scheme=scheme, raw=url, path=None, password=password)


def mask_url(url: str) -> str:
    """The URL with any password replaced by ``***``."""
    return _USERINFO_PASSWORD.sub(lambda m: f"{m['head']}{MASK}@", url)


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Masks URL passwords in free text (error messages) and any of the given secrets."""
    text = mask_url(text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text
