"""Camera URLs: which schemes ingest reads, and how to show a URL without its secrets.

A URL's secret is its password (``rtsp://user:password@host``) or, for WHEP endpoints,
a bearer token given as the password or as a ``token`` query parameter
(``whep://:TOKEN@host/path``, ``whep://host/path?token=TOKEN``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

WHEP_SCHEMES = ("whep", "wheps")  # WebRTC over WHEP; the HTTP exchange over http / https
SUPPORTED_SCHEMES = ("rtsp", "rtsps", *WHEP_SCHEMES, "file")
TOKEN_PARAMETER = "token"  # noqa: S105 (the name of the parameter that holds one)
MASK = "***"

# scheme://user:password@host  ->  the password part, wherever it appears in a text.
_USERINFO_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]*:)[^@\s/]*@")
# ?token=… or &token=…  ->  the value, wherever it appears in a text.
_TOKEN_PARAMETER = re.compile(rf"(?P<head>[?&]{TOKEN_PARAMETER}=)[^&#\s]*", re.IGNORECASE)


class CameraUrlError(ValueError):
    """A camera URL that ingest cannot read. The message never contains the password."""


@dataclass(frozen=True, slots=True)
class CameraUrl:
    scheme: str
    raw: str
    path: Path | None  # set for file sources
    password: str | None  # the URL's secret: its password, or a WHEP bearer token

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
    if scheme in WHEP_SCHEMES and password is None:
        password = query_token(parts.query)
    return CameraUrl(scheme=scheme, raw=url, path=None, password=password)


def query_token(query: str) -> str | None:
    """The ``token`` query parameter's value, if any (its last occurrence)."""
    values = [value for name, value in parse_qsl(query) if name.lower() == TOKEN_PARAMETER]
    return values[-1] if values else None


def mask_url(url: str) -> str:
    """The URL with any password and ``token`` parameter replaced by ``***``."""
    url = _USERINFO_PASSWORD.sub(lambda m: f"{m['head']}{MASK}@", url)
    return _TOKEN_PARAMETER.sub(lambda m: f"{m['head']}{MASK}", url)


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Masks URL passwords and tokens in free text (error messages) and the given secrets."""
    text = mask_url(text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text
