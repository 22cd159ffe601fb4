"""The archive's files beside its table (thumbnails), in a directory or on S3.

Keys are paths relative to the archive's root, so an archive that moves (another
directory, another endpoint) keeps working. Every call blocks: run them in a thread.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from pyarrow import fs

from agent.archive.settings import S3_SCHEME, ArchiveSettings, S3Settings

S3_TIMEOUT_S = 10.0
DELETE_THREADS = 16
# A still window shows the thumbnail of the window it is unchanged since when that one
# started at most this long before it; retention relies on the bound to find the windows
# that still show a thumbnail whose own window it deletes.
SHARED_THUMBNAIL_MS = 3_600_000


class BlobStore:
    def __init__(self, filesystem: fs.FileSystem, root: str, local: bool) -> None:
        self._fs = filesystem
        self._root = root.rstrip("/")
        self._local = local

    @classmethod
    def open(cls, settings: ArchiveSettings, data_dir: Path) -> BlobStore:
        uri = settings.resolved_uri(data_dir)
        if settings.on_s3:
            return cls(s3_filesystem(settings.s3), uri[len(S3_SCHEME) :], local=False)
        Path(uri).mkdir(parents=True, exist_ok=True)
        return cls(fs.LocalFileSystem(), uri, local=True)

    def put(self, key: str, data: bytes) -> str:
        """Writes (or overwrites) ``key``; returns the key to keep in the table."""
        path = self._path(key)
        if not self._local:  # an object appears whole or not at all
            self._write(path, data)
            return key
        self._fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
        partial = f"{path}.{uuid.uuid4().hex}.partial"
        self._write(partial, data)
        self._fs.move(partial, path)  # a reader never sees half a file
        return key

    def get(self, key: str) -> bytes | None:
        try:
            with self._fs.open_input_stream(self._path(key)) as stream:
                data: bytes = stream.read()
        except FileNotFoundError:
            return None
        return data

    def delete(self, keys: Sequence[str]) -> None:
        """Deletes what exists of ``keys``, several at once: an object store answers each
        delete in a round trip, and retention deletes a camera-day's thumbnails at a time."""
        if not keys:
            return
        with ThreadPoolExecutor(min(DELETE_THREADS, len(keys))) as pool:
            for _ in pool.map(self._delete_one, keys):
                pass

    def _delete_one(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._fs.delete_file(self._path(key))

    def _write(self, path: str, data: bytes) -> None:
        with self._fs.open_output_stream(path) as stream:
            stream.write(data)

    def _path(self, key: str) -> str:
        parts = key.split("/")
        if any(part in ("", ".", "..") or "\\" in part for part in parts):
            raise ValueError(f"not a relative blob key: {key!r}")
        return f"{self._root}/{key}"


def thumbnail_path(camera_id: str, start_ms: int) -> str:
    """``thumbnails/<camera>/<yyyy-mm-dd>/<start_ms>.jpg``, the day in UTC."""
    if "/" in camera_id or camera_id in ("", ".", ".."):
        raise ValueError(f"camera id {camera_id!r} cannot name a folder")
    day = datetime.fromtimestamp(start_ms / 1000, tz=UTC).date().isoformat()
    return f"thumbnails/{camera_id}/{day}/{start_ms}.jpg"


def s3_filesystem(settings: S3Settings | None) -> fs.S3FileSystem:
    """What is not set here comes from the environment, as for LanceDB."""
    if settings is None:
        return fs.S3FileSystem(connect_timeout=S3_TIMEOUT_S, request_timeout=S3_TIMEOUT_S)
    endpoint = urlsplit(settings.endpoint_url) if settings.endpoint_url else None
    secret = settings.secret_access_key
    return fs.S3FileSystem(
        access_key=settings.access_key_id,
        secret_key=secret.get_secret_value() if secret else None,
        region=settings.region,
        endpoint_override=endpoint.netloc if endpoint else None,
        scheme=endpoint.scheme if endpoint else "https",
        connect_timeout=S3_TIMEOUT_S,
        request_timeout=S3_TIMEOUT_S,
    )
