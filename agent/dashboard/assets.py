"""The dashboard's static files, read once from the package, each with its type and ETag.

Assets are served under a version segment derived from their content
(``/dashboard/{version}/…``), so browsers may keep them for good: a changed file changes
the version, and the page (never cached without a check) names the new one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
INDEX = "index.html"
BASE_MARKER = b"%ASSET_BASE%"


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


@dataclass(frozen=True, slots=True)
class Assets:
    version: str
    index: Asset
    files: dict[str, Asset]

    @property
    def base(self) -> str:
        return f"/dashboard/{self.version}"


def _asset(body: bytes, suffix: str) -> Asset:
    etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
    return Asset(body, CONTENT_TYPES[suffix], etag)


def _walk(folder: Traversable, prefix: str = "") -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for entry in folder.iterdir():
        if entry.is_dir():
            found |= _walk(entry, f"{prefix}{entry.name}/")
        elif any(entry.name.endswith(suffix) for suffix in CONTENT_TYPES):
            found[prefix + entry.name] = entry.read_bytes()
    return found


def _version(contents: dict[str, bytes]) -> str:
    digest = hashlib.sha256()
    for path in sorted(contents):
        digest.update(path.encode() + b"\0" + contents[path] + b"\0")
    return digest.hexdigest()[:12]


def load_assets(folder: Traversable | None = None) -> Assets:
    """Every servable file under ``static/``; the page has the asset base written in."""
    contents = _walk(folder or files("agent.dashboard").joinpath("static"))
    page = contents.pop(INDEX)
    version = _version(contents)
    index = _asset(page.replace(BASE_MARKER, f"/dashboard/{version}".encode()), ".html")
    assets = {path: _asset(body, "." + path.rsplit(".", 1)[-1]) for path, body in contents.items()}
    return Assets(version, index, assets)
