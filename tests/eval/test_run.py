"""The eval runner: its pure parts, the webhook receiver, and the bundled set through the real
pipeline (real Redis, real ingest of the files as live cameras, scheduler, worker, alert
state, dispatcher, signed webhooks) with the pixel engine in-process and, for one video,
behind the HTTP server with the real HTTP engine; both runs at once, ~60 s of video."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from agent.eval.footage import STILL_SCENES
from agent.eval.labels import LabelSet
from agent.eval.receiver import WebhookReceiver
from agent.eval.run import alert_times, eval_settings
from agent.runtime.config import VigilSettings
from agent.webhooks.signing import new_secret, signed_headers
from streams.bus.keys import Keys
from tests.eval.conftest import Runs

# The scene still but for a small mover: where gating must save calls. Scenes with events
# analyse every window while a streak is pending or an alert open, by design.
MOSTLY_STILL = STILL_SCENES


def test_alert_times_read_onset_and_opening_from_old_and_new_records() -> None:
    old = {"window_start": "100.000", "opened_at": "100.000", "created_at": "109.250"}
    assert alert_times(old) == (100.0, 109.25)
    new = {"onset_at": "97.250", "opened_at": "109.500", "window_start": "100.000"}
    assert alert_times(new) == (97.25, 109.5)
    assert alert_times({"opened_at": "50.0"}) == (50.0, 50.0)


def test_eval_settings_play_the_videos_as_disabled_cameras_with_loopback_webhooks(
    bundled: LabelSet,
) -> None:
    keys = Keys("vigil-eval-1234:")
    settings = eval_settings(VigilSettings(), bundled, "unix:///tmp/r.sock", keys)
    assert [camera.id for camera in settings.cameras] == bundled.video_ids
    lane = next(camera for camera in settings.cameras if camera.id == "lane-in")
    assert ([z.name for z in lane.zones], [m.name for m in lane.masks]) == (["lane"], ["screen"])
    assert not any(camera.enabled for camera in settings.cameras)
    assert settings.cameras[0].url.get_secret_value() == bundled.video_path("stays").as_uri()
    assert [rule.cameras for rule in settings.rules] == [
        ["stays", "passes", "busy", "quiet"], ["two", "busy"], ["slow", "busy"],
        ["lane-in", "lane-out", "lane-busy"], ["lane-busy-whole"],
    ]  # fmt: skip
    assert settings.key_prefix == keys.prefix
    assert "127.0.0.1" in settings.webhooks.allow_hosts
    assert settings.pipeline == VigilSettings().pipeline


def test_the_receiver_records_arrivals_and_checks_signatures() -> None:
    secret = new_secret()
    body = json.dumps({"type": "alert.opened", "data": {"alert_id": "al_1"}}).encode()
    with WebhookReceiver(secret) as receiver, httpx.Client() as client:
        good = signed_headers(secret, "msg_1", int(time.time()), body)
        assert client.post(receiver.url, content=body, headers=good).status_code == 204
        forged = signed_headers(new_secret(), "msg_2", int(time.time()), body)
        assert client.post(receiver.url, content=body, headers=forged).status_code == 204
        assert client.post(receiver.url, content=b"[]").status_code == 400
    assert [(r.message_id, r.verified) for r in receiver.receipts] == [
        ("msg_1", True), ("msg_2", False),
    ]  # fmt: skip
    assert list(receiver.first_arrivals("alert.opened")) == ["al_1"]
    assert receiver.first_arrivals("alert.closed") == {}


def brief(report: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in report.items() if k not in ("rules", "videos")})


def test_every_event_alerts_once_and_nothing_else_does(runs: Runs) -> None:
    assert runs.report["recall"] == 1.0, brief(runs.report)
    assert runs.report["false_alerts"] == 0, brief(runs.report)


def test_each_alert_webhook_arrives_signed(runs: Runs) -> None:
    assert runs.report["webhooks_missing"] == 0
    assert runs.report["webhook_bad_signatures"] == 0


def test_the_engine_calls_the_pipeline_counts_are_the_engine_s_own(runs: Runs) -> None:
    calls = {video: figures["calls"] for video, figures in runs.report["videos"].items()}
    assert calls == dict(runs.engine.calls_by_camera)
    assert runs.engine.reason_calls == len(runs.report["alerts"])  # a summary per alert


def test_alerts_are_stamped_within_half_a_second_of_the_event_onset(runs: Runs) -> None:
    assert runs.report["evidence_start_error_max_s"] <= 0.5, brief(runs.report)


def test_webhooks_arrive_within_12_s_of_the_onset_typically_and_20_s_at_most(runs: Runs) -> None:
    assert runs.report["onset_to_webhook_p50_s"] <= 12.0, brief(runs.report)
    assert runs.report["onset_to_webhook_max_s"] <= 20.0, brief(runs.report)


def test_mostly_still_scenes_cost_at_most_30_percent_of_the_ungated_calls(runs: Runs) -> None:
    videos = runs.report["videos"]
    calls = sum(videos[video]["calls"] for video in MOSTLY_STILL)
    ungated = sum(videos[video]["ungated_windows"] for video in MOSTLY_STILL)
    assert calls <= 0.3 * ungated, json.dumps({v: videos[v] for v in MOSTLY_STILL})


def test_a_rule_about_a_zone_alerts_inside_it_only_and_costs_no_calls_for_motion_outside(
    runs: Runs,
) -> None:
    """The lane scenes: the object in the lane alerts, the same object beside it does not
    (the clip is asked about it, cropped, with the lane outlined), and walkers beside the
    lane with a masked screen in it cost at most 30% of what the same footage costs a
    camera without zones."""
    assert runs.report["zones_recall"] == 1.0, brief(runs.report)
    assert runs.report["zones_false_alerts"] == 0, brief(runs.report)
    assert runs.report["videos"]["lane-out"]["calls"] >= 4  # asked, and it said no
    assert runs.report["calls_share_outside_motion"] <= 0.3, brief(runs.report)


def test_the_real_http_engine_against_the_pixel_server_finds_the_event(runs: Runs) -> None:
    assert (runs.http["recall"], runs.http["false_alerts"]) == (1.0, 0), brief(runs.http)
    assert runs.http["webhooks_missing"] == 0
    assert runs.server.verdict_calls == runs.http["videos"]["passes"]["calls"] > 0
    assert runs.server.reason_calls == len(runs.http["alerts"])


def test_the_real_http_engine_run_stamps_the_onset_within_half_a_second(runs: Runs) -> None:
    assert runs.http["evidence_start_error_max_s"] <= 0.5, brief(runs.http)
