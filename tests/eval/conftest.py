"""The bundled labelled footage, generated once for the eval tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.eval.footage import generate
from agent.eval.labels import LabelSet, load_labels
from streams.buffer.frames import FrameRecord
from tests.eval.records import frames_of


@pytest.fixture(scope="session")
def bundled_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """labels.yaml of the bundled set; the videos lie beside it."""
    return generate(tmp_path_factory.mktemp("footage"))


@pytest.fixture(scope="session")
def bundled(bundled_path: Path) -> LabelSet:
    return load_labels(bundled_path)


@pytest.fixture(scope="session")
def passes_records(bundled: LabelSet) -> list[FrameRecord]:
    return frames_of(bundled.video_path("passes"), 26.0)


@pytest.fixture(scope="session")
def stays_records(bundled: LabelSet) -> list[FrameRecord]:
    return frames_of(bundled.video_path("stays"), 18.0)
