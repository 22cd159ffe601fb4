"""The bundled labelled footage, generated once for the eval tests."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr

from agent.archive.settings import EvalSettings
from agent.bench.alerts import figures
from agent.engines.settings import EngineSettings
from agent.eval.footage import generate
from agent.eval.labels import LabelSet, load_labels
from agent.eval.pixel_engine import PixelEngine
from agent.eval.pixel_server import MODEL, PixelServer
from agent.eval.run import run_eval
from agent.runtime.config import VigilSettings
from agent.runtime.embedded_redis import EmbeddedRedis
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


def only(labels_path: Path, video: str, folder: Path) -> Path:
    """The labels of one video of the set, as a file of their own."""
    document = yaml.safe_load(labels_path.read_text())
    (entry,) = [v for v in document["videos"] if v["id"] == video]
    entry["path"] = str(labels_path.parent / entry["path"])
    rules = [rule for rule in document["rules"] if video in rule["videos"]]
    for rule in rules:
        rule["videos"] = [video]
        rule["events"] = {video: rule["events"][video]} if video in rule["events"] else {}
    path = folder / f"{video}.yaml"
    path.write_text(yaml.safe_dump({"videos": [entry], "rules": rules}))
    return path


@dataclass(frozen=True)
class Runs:
    report: dict[str, Any]  # the bundled set, pixel engine in-process
    engine: PixelEngine
    http: dict[str, Any]  # `passes` alone, the pixel server behind the HTTP engine
    server: PixelServer
    data_dir: Path  # the bundled run's archive lies there
    origins: dict[str, float]  # video -> epoch s of its second 0


@pytest.fixture(scope="session")
def runs(
    bundled: LabelSet,
    bundled_path: Path,
    redis_server: EmbeddedRedis,
    tmp_path_factory: pytest.TempPathFactory,
) -> Runs:
    folder = tmp_path_factory.mktemp("eval")
    # Short context clips keep the feedback set's replay short (tests/eval/test_feedback_set.py)
    context = EvalSettings(context_before_s=6.0, context_after_s=6.0)
    settings = VigilSettings(redis_url=SecretStr(redis_server.url), data_dir=folder, eval=context)
    passes = load_labels(only(bundled_path, "passes", folder))
    engine = PixelEngine()
    with PixelServer() as server, ThreadPoolExecutor(1) as pool:
        http_engine = EngineSettings(kind="openai", model=MODEL, base_urls=[server.base_url])
        over_http = pool.submit(
            run_eval, passes, settings.model_copy(update={"engine": http_engine})
        )
        report = run_eval(bundled, settings, engine, archive=True)
        http = over_http.result()
    return Runs(figures(report), engine, http.to_json(), server, folder, report.origins)
