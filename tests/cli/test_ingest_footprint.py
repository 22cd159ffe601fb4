"""`vigil ingest` loads only the video side: one ingest process per few cameras, many of
them in a deployment, each paying for what it imports (torch alone is about 0.9 GB)."""

from __future__ import annotations

import subprocess
import sys

REASONING_SIDE = ("torch", "vllm", "transformers", "qwen_vl_utils", "fastapi", "uvicorn")
WEBRTC = ("aiortc",)


def loaded_after(code: str) -> list[str]:
    """The heavy top-level modules loaded in a fresh interpreter after ``code``."""
    heavy = REASONING_SIDE + WEBRTC
    probe = f"{code}\nimport sys\nprint(' '.join(m for m in {heavy!r} if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    return result.stdout.split()


def test_the_ingest_command_loads_neither_the_reasoning_side_nor_webrtc() -> None:
    assert loaded_after("import agent.cli.app, agent.runtime.ingest, streams.ingest.service") == []


def test_a_webrtc_camera_loads_aiortc_and_still_nothing_of_the_reasoning_side() -> None:
    code = (
        "import threading\n"
        "from streams.ingest.sources import open_frames\n"
        "from streams.decode.source_types import SourceOptions\n"
        "from streams.urls import parse_camera_url\n"
        "open_frames(parse_camera_url('whep://127.0.0.1:9/cam/whep'), SourceOptions(),"
        " threading.Event())"
    )
    assert loaded_after(code) == ["aiortc"]
