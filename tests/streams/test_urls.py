"""Camera URLs: validation, and no secret shown."""

from __future__ import annotations

import pytest

from streams.urls import CameraUrlError, mask_url, parse_camera_url, redact


def test_urls_are_masked_everywhere() -> None:
    url = "rtsp://admin:p%40ss@cam.local:554/stream1"
    assert mask_url(url) == "rtsp://admin:***@cam.local:554/stream1"
    assert parse_camera_url(url).password == "p@ss"
    message = f"Connection refused: '{url}' (password p@ss)"
    assert redact(message, ("p@ss",)) == (
        "Connection refused: 'rtsp://admin:***@cam.local:554/stream1' (password ***)"
    )
    assert mask_url("rtsp://cam.local/x") == "rtsp://cam.local/x"


def test_camera_url_validation() -> None:
    assert parse_camera_url("/videos/a.mp4").is_file
    assert parse_camera_url("file:///videos/a%20b.mp4").path is not None
    with pytest.raises(CameraUrlError, match="unsupported") as caught:
        parse_camera_url("http://user:pw@cam/x")
    assert "pw" not in str(caught.value)
    with pytest.raises(CameraUrlError, match="no host"):
        parse_camera_url("rtsp:///x")
