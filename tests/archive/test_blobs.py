from __future__ import annotations

from pathlib import Path

import pytest

from agent.archive.blobs import BlobStore, thumbnail_path
from agent.archive.settings import ArchiveSettings
from tests.archive.conftest import T0_MS


def test_thumbnails_are_filed_by_camera_and_utc_day() -> None:
    assert thumbnail_path("dock-1", T0_MS - 1) == f"thumbnails/dock-1/2025-12-31/{T0_MS - 1}.jpg"
    assert thumbnail_path("dock-1", T0_MS) == f"thumbnails/dock-1/2026-01-01/{T0_MS}.jpg"
    for camera in ("", "..", "a/b"):
        with pytest.raises(ValueError, match="cannot name a folder"):
            thumbnail_path(camera, T0_MS)


def test_put_get_and_delete_in_the_archive_folder(tmp_path: Path) -> None:
    blobs = BlobStore.open(ArchiveSettings(), tmp_path)
    key = blobs.put(thumbnail_path("dock", T0_MS), b"jpeg one")
    assert (tmp_path / "archive" / key).read_bytes() == b"jpeg one"
    blobs.put(key, b"jpeg two")
    assert blobs.get(key) == b"jpeg two"
    assert blobs.get("thumbnails/dock/none.jpg") is None
    blobs.delete([key, "thumbnails/dock/none.jpg"])
    assert blobs.get(key) is None
    assert not list((tmp_path / "archive").rglob("*.partial"))


@pytest.mark.parametrize("key", ["../escape.jpg", "/etc/passwd", "a//b.jpg", "a/./b.jpg", "a\\b"])
def test_keys_cannot_leave_the_archive(tmp_path: Path, key: str) -> None:
    blobs = BlobStore.open(ArchiveSettings(), tmp_path)
    with pytest.raises(ValueError, match="not a relative blob key"):
        blobs.put(key, b"x")
    with pytest.raises(ValueError, match="not a relative blob key"):
        blobs.get(key)
