"""Feedback becomes a labelled set: over the archive of a real run of the bundled footage
(pixel engine), an operator confirms the red object that stays and dismisses the one that
only passes by. `vigil eval --from-feedback --export` writes the set from the archived
context clips; `vigil eval` re-runs it, giving the counts the feedback implies, and the
changed rule beside the rule now (about the zone where the object that stays rests, not
the whole picture) removes the false alarm without losing the event."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from agent.archive.alert_store import AlertStore
from agent.archive.blobs import BlobStore
from agent.archive.missed_store import MissedStore
from agent.archive.settings import ArchiveSettings
from agent.bench.feedback import CHANGED, DOCK
from agent.eval.feedback_set import feedback_clips
from agent.eval.labels import LabelSet, load_labels
from agent.eval.report import before_after
from agent.pipeline.alert_feedback import FeedbackIn, Verdict, feedback_of
from agent.pipeline.alert_records import AlertFilter
from agent.runtime.embedded_redis import EmbeddedRedis
from tests.eval.conftest import Runs

VIGIL = str(Path(sys.executable).with_name("vigil"))
RULE = "red-object"


def vigil(redis_server: EmbeddedRedis, data_dir: Path, *arguments: str) -> str:
    env = {
        **os.environ, "VIGIL_REDIS_URL": redis_server.url, "VIGIL_DATA_DIR": str(data_dir),
        "VIGIL_KEY_PREFIX": "eval-feedback:",
    }  # fmt: skip
    done = subprocess.run(
        [VIGIL, "eval", *arguments], capture_output=True, text=True, timeout=400, env=env,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


async def judge_the_run(runs: Runs) -> dict[str, str]:
    """Confirms the alert on `stays`, dismisses the one on `passes`; video → alert id."""
    settings = ArchiveSettings()
    alerts = await AlertStore.open_existing(
        settings, runs.data_dir, BlobStore.open(settings, runs.data_dir)
    )
    assert alerts is not None
    records = {}
    for video in ("stays", "passes"):
        [record] = [
            archived
            for archived in await alerts.page(AlertFilter(camera=video, rule=RULE), None, None, 10)
        ]
        assert record.context_clip is not None, f"{video}: no context clip archived"
        verdict = Verdict.CONFIRMED if video == "stays" else Verdict.FALSE_ALARM
        changed = await alerts.give_feedback(
            record.id, feedback_of(FeedbackIn(verdict=verdict), "op")
        )
        assert changed is not None
        records[video] = record.id
    return records


@pytest.fixture(scope="module")
def exported(
    runs: Runs,
    bundled: LabelSet,
    redis_server: EmbeddedRedis,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    asyncio.run(judge_the_run(runs))
    folder = tmp_path_factory.mktemp("feedback")
    config = folder / "vigil.yaml"
    [rule] = [rule for rule in bundled.rules() if rule.id == RULE]
    cameras = [
        {"id": video, "url": "rtsp://10.0.0.8/s", "zones": [DOCK.model_dump(mode="json")]}
        for video in ("stays", "passes")
    ]
    config.write_text(yaml.safe_dump({"cameras": cameras, "rules": [rule.model_dump(mode="json")]}))
    changed = folder / "changed.yaml"
    changed.write_text(yaml.safe_dump(CHANGED))  # the rule now, about the dock only
    out = folder / "set"
    printed = vigil(
        redis_server, runs.data_dir, "--config", str(config), "--from-feedback", "--rule", RULE,
        "--rule-file", str(changed), "--export", str(out),
    )  # fmt: skip
    assert str(out / "labels.yaml") in printed
    return out / "labels.yaml"


def test_the_exported_set_holds_the_clips_and_the_truth_the_feedback_gives(
    exported: Path, runs: Runs
) -> None:
    labels = load_labels(exported)
    [confirmed, dismissed] = sorted(labels.video_ids)  # numbered in the order they opened
    assert confirmed.startswith("confirmed-")
    assert dismissed.startswith("false-alarm-")
    assert [rule.id for rule in labels.file.rules] == [RULE, f"{RULE}-after"]
    assert labels.file.rules[1].zones == ["dock"]
    assert [zone.name for zone in labels.camera_zones(confirmed).zones] == ["dock"]
    assert labels.events(RULE, dismissed) == []
    [(start, end)] = labels.events(RULE, confirmed)
    assert 0 < start < end <= labels.durations_s[confirmed]


def test_the_set_run_again_counts_what_the_feedback_says_and_the_change_removes_the_false_alarm(
    exported: Path, runs: Runs, redis_server: EmbeddedRedis
) -> None:
    printed = vigil(redis_server, runs.data_dir, str(exported), "--json", "--pixel-engine")
    report = json.loads(printed)
    now, changed = report["rules"][RULE], report["rules"][f"{RULE}-after"]
    assert (now["detected"], now["false_alerts"], now["missed"]) == (1, 1, 0)
    assert (changed["detected"], changed["false_alerts"], changed["missed"]) == (1, 0, 0)
    compared = before_after(report["rules"], RULE, f"{RULE}-after")
    assert compared == {
        "precision_before": 0.5, "precision_after": 1.0, "recall_before": 1.0, "recall_after": 1.0
    }  # fmt: skip


async def test_without_feedback_there_is_no_set(runs: Runs) -> None:
    settings = ArchiveSettings()
    blobs = BlobStore.open(settings, runs.data_dir)
    alerts = await AlertStore.open_existing(settings, runs.data_dir, blobs)
    missed = await MissedStore.open(settings, runs.data_dir)
    assert await feedback_clips(alerts, missed, "blue-spill", None) == []
