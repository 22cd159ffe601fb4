"""Feedback in a real browser against a running Vigil: Confirm (with a note and the true
onset taken from the evidence video) and the ``f`` key store feedback the page then shows;
the server's refusal is shown as it says it; a read key sees feedback but cannot give it;
the rules page counts feedback per rule and camera; a missed event marked on the camera
page is stored with the clip its frames make.

Alerts are written into Redis as the pipeline writes them (record, indexes, evidence
frames copied from the street camera's buffer), so no test waits for the pipeline."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from playwright.sync_api import Page, expect

from agent.runtime.startup import connect
from tests.dashboard.conftest import LiveVigil
from tests.dashboard.test_dashboard import create_rule, shot, sign_in
from tests.streams.helpers import wait_for

EVIDENCE_FRAMES = 12
VIDEO_PLAYS = "(v) => v.readyState >= 2 && v.videoWidth > 0"


def seconds_input(epoch_s: float) -> str:
    return datetime.fromtimestamp(int(epoch_s), UTC).strftime("%Y-%m-%dT%H:%M:%S")


def input_epoch(value: str) -> float:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()


def buffered_frames(vigil: LiveVigil, count: int) -> list[tuple[bytes, float]]:
    """The street camera's latest ``count`` buffered frames, oldest first (JPEG, capture s)."""
    with connect(vigil.redis_url) as client:
        wait_for(lambda: client.xlen(vigil.keys.frames("street")) >= count, 20, "buffered frames")
        entries = cast(Any, client.xrevrange(vigil.keys.frames("street"), count=count))
    return [(fields[b"jpeg"], float(fields[b"ts"])) for _, fields in reversed(entries)]


def stored_alert(vigil: LiveVigil, rule: str = "person", evidence: bool = False) -> str:
    """An open alert of ``rule`` on street as the pipeline stores it; with ``evidence``, its
    evidence frames are the camera's latest buffered ones."""
    alert_id = f"al_{uuid.uuid4().hex[:16]}"
    frames = buffered_frames(vigil, EVIDENCE_FRAMES) if evidence else []
    opened = frames[-1][1] if frames else time.time() - 5
    record = {
        "id": alert_id, "camera": "street", "rule": rule, "severity": "critical",
        "question": "Is a person standing in the street?", "state": "open",
        "acknowledged": "0", "onset_at": f"{opened - 2:.3f}", "opened_at": f"{opened:.3f}",
        "description": "a person stands by the kerb", "windows": "1",
    }  # fmt: skip
    if frames:
        record["evidence_clip_start"] = f"{frames[0][1]:.3f}"
    with connect(vigil.redis_url) as client:
        client.hset(vigil.keys.alert(alert_id), mapping=record)
        if frames:
            client.rpush(vigil.keys.evidence(alert_id), *(jpeg for jpeg, _ in frames))
        opened_ms = round(opened * 1000)
        client.zadd(vigil.keys.alert_index, {alert_id: opened_ms})
        client.zadd(vigil.keys.camera_alert_index("street"), {alert_id: opened_ms})
    return alert_id


def buffered_period(vigil: LiveVigil) -> tuple[float, float]:
    """Whole seconds of the last few that the street camera's buffer holds from start."""
    start = float(int(time.time()) - 3)

    def held() -> bool:
        with connect(vigil.redis_url) as client:
            oldest = cast(Any, client.xrange(vigil.keys.frames("street"), count=1))
        return bool(oldest) and float(oldest[0][1][b"ts"]) < start - 1

    wait_for(held, 20, "frames buffered from before the period")
    return start, start + 2


def feedback_of(vigil: LiveVigil, alert_id: str) -> dict[str, Any] | None:
    with vigil.http() as http:
        return cast(dict[str, Any] | None, http.get(f"/v1/alerts/{alert_id}").json()["feedback"])


def give(vigil: LiveVigil, alert_id: str, body: dict[str, Any]) -> None:
    with vigil.http() as http:
        answer = http.post(f"/v1/alerts/{alert_id}/feedback", json=body)
    assert answer.status_code == 200, answer.text


def test_confirm_and_the_f_key_store_feedback_the_page_shows(
    vigil: LiveVigil, page: Page, artifacts_dir: Path
) -> None:
    alert_id = stored_alert(vigil, evidence=True)
    sign_in(page, vigil.url, vigil.admin, f"#/alerts/{alert_id}")
    section = page.locator("section.feedback")
    expect(section.locator(".feedback-current")).to_have_text("No feedback yet.")
    video = page.locator(".evidence video")
    page.wait_for_function(VIDEO_PLAYS, arg=video.element_handle())
    video.evaluate("(v) => { v.pause(); v.currentTime = 1.0; }")
    page.wait_for_function(
        "(v) => !v.seeking && Math.abs(v.currentTime - 1) < 0.2", arg=video.element_handle()
    )
    section.get_by_role("button", name="Onset = video time").click()
    with connect(vigil.redis_url) as client:
        clip_start = float(
            cast(bytes, client.hget(vigil.keys.alert(alert_id), "evidence_clip_start"))
        )
    onset = input_epoch(section.get_by_label("True onset").input_value())
    assert onset == int(clip_start + video.evaluate("(v) => v.currentTime"))
    section.get_by_label("Note").fill("a man waits <b>at</b> the crossing")
    section.get_by_role("button", name="Confirm").click()
    given = section.locator(".feedback-given")
    expect(given).to_have_attribute("data-verdict", "confirmed")
    expect(given).to_contain_text("Confirmed by dashboard-admin at")
    expect(given.locator(".feedback-note")).to_have_text("a man waits <b>at</b> the crossing")
    expect(given.locator(".feedback-times")).to_contain_text("true onset")
    stored = feedback_of(vigil, alert_id)
    assert stored is not None
    assert (stored["verdict"], stored["by"], stored["onset"]) == (
        "confirmed",
        "dashboard-admin",
        onset,
    )
    assert stored["note"] == "a man waits <b>at</b> the crossing"
    shot(page, artifacts_dir, "alert-feedback")

    page.locator("h1").click()  # focus out of the note field: keys are shortcuts again
    page.keyboard.press("f")
    expect(given).to_have_attribute("data-verdict", "false_alarm")
    expect(given).to_contain_text("False alarm by dashboard-admin")
    stored = feedback_of(vigil, alert_id)
    assert stored is not None
    assert (stored["verdict"], stored["onset"]) == (
        "false_alarm",
        None,
    )  # no times for a false alarm


def test_keys_typed_into_the_note_are_text_and_tab_reaches_the_buttons(
    vigil: LiveVigil, page: Page
) -> None:
    alert_id = stored_alert(vigil)
    sign_in(page, vigil.url, vigil.admin, f"#/alerts/{alert_id}")
    section = page.locator("section.feedback")
    section.get_by_label("Note").press_sequentially("cf")
    expect(section.get_by_label("Note")).to_have_value("cf")
    page.locator("h1").focus()
    for _ in range(20):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "Confirm":
            break
    expect(section.get_by_role("button", name="Confirm")).to_be_focused()
    page.keyboard.press("Enter")
    expect(section.locator(".feedback-given")).to_have_attribute("data-verdict", "confirmed")
    stored = feedback_of(vigil, alert_id)
    assert stored is not None
    assert (stored["verdict"], stored["note"]) == ("confirmed", "cf")


def test_the_servers_refusal_is_shown(vigil: LiveVigil, page: Page) -> None:
    alert_id = stored_alert(vigil)
    sign_in(page, vigil.url, vigil.admin, f"#/alerts/{alert_id}")
    section = page.locator("section.feedback")
    section.get_by_label("True onset").fill(seconds_input(time.time() - 10))
    section.get_by_label("True end").fill(seconds_input(time.time() - 20))
    section.get_by_role("button", name="Confirm").click()
    refusal = section.get_by_role("alert")
    expect(refusal).to_contain_text("Feedback not saved")
    expect(refusal).to_contain_text("end must be after onset")
    expect(section.locator(".feedback-current")).to_have_text("No feedback yet.")
    assert feedback_of(vigil, alert_id) is None


def test_a_read_key_sees_feedback_but_cannot_give_it(vigil: LiveVigil, page: Page) -> None:
    alert_id = stored_alert(vigil)
    give(vigil, alert_id, {"verdict": "false_alarm", "note": "a shadow"})
    posts: list[str] = []
    page.on(
        "request", lambda request: posts.append(request.url) if request.method == "POST" else None
    )
    sign_in(page, vigil.url, vigil.read, f"#/alerts/{alert_id}")
    section = page.locator("section.feedback")
    expect(section.locator(".feedback-given")).to_contain_text("False alarm by dashboard-admin")
    expect(section.locator(".feedback-note")).to_have_text("a shadow")
    expect(section).to_contain_text("giving it needs an admin key")
    expect(section.get_by_role("button", name="Confirm")).to_be_disabled()
    expect(section.get_by_role("button", name="False alarm")).to_be_disabled()
    page.locator("h1").click()
    page.keyboard.press("c")
    page.wait_for_timeout(300)
    assert not [url for url in posts if "/feedback" in url]
    stored = feedback_of(vigil, alert_id)
    assert stored is not None
    assert stored["verdict"] == "false_alarm"
    page.goto(f"{vigil.url}/#/cameras")
    expect(page.locator("[data-camera=street]")).to_have_attribute("data-state", "online")
    expect(page.locator(".missed-event")).to_have_count(0)  # marking a missed event: admins only


def test_a_missed_event_marked_on_the_camera_page_is_stored(
    vigil: LiveVigil, page: Page, artifacts_dir: Path
) -> None:
    sign_in(page, vigil.url, vigil.admin, "#/cameras")
    tile = page.locator("[data-camera=street]")
    tile.get_by_text("Mark a missed event").click()
    form = tile.get_by_role("form", name="Mark a missed event on Street")
    expect(form.get_by_label("Rule")).to_have_value("person")
    expect(form.get_by_label("End (UTC)")).not_to_have_value("")  # filled as it opens
    start = input_epoch(form.get_by_label("Start (UTC)").input_value())
    end = input_epoch(form.get_by_label("End (UTC)").input_value())
    assert end - start == 30
    assert abs(end - time.time()) <= 5
    long_ago = time.time() - 3 * 3600  # long out of the buffer
    form.get_by_label("Start (UTC)").fill(seconds_input(long_ago))
    form.get_by_label("End (UTC)").fill(seconds_input(long_ago + 10))
    form.get_by_role("button", name="Mark missed").click()
    expect(form.get_by_role("alert")).to_contain_text("no longer holds the start of that period")

    start, end = buffered_period(vigil)
    form.get_by_label("Start (UTC)").fill(seconds_input(start))
    form.get_by_label("End (UTC)").fill(seconds_input(end))
    form.get_by_label("Note").fill("a man crossed against the light")
    form.get_by_role("button", name="Mark missed").click()
    expect(form.get_by_role("status")).to_contain_text("Missed event marked for person")
    expect(form.get_by_role("status")).to_contain_text("Footage kept")
    with vigil.http() as http:
        items = http.get("/v1/feedback/missed", params={"camera": "street"}).json()["items"]
    assert [(m["rule"], m["start"], m["end"], m["note"], m["by"]) for m in items] == [
        ("person", start, end, "a man crossed against the light", "dashboard-admin")
    ]
    assert items[0]["clip_start"] <= start
    shot(page, artifacts_dir, "missed-event")


@pytest.fixture(scope="module")
def crowd_rule(vigil: LiveVigil) -> str:
    create_rule(vigil, "crowd", "Is a crowd gathering on the pavement?")
    return "crowd"


def test_the_rules_page_counts_feedback_per_rule_and_camera(
    vigil: LiveVigil, page: Page, crowd_rule: str, artifacts_dir: Path
) -> None:
    confirmed, dismissed, unjudged = (stored_alert(vigil, crowd_rule) for _ in range(3))
    give(vigil, confirmed, {"verdict": "confirmed"})
    give(vigil, dismissed, {"verdict": "false_alarm"})
    start, end = buffered_period(vigil)
    with vigil.http() as http:
        body = {"camera": "street", "rule": crowd_rule, "start": start, "end": end}
        assert http.post("/v1/feedback/missed", json=body).status_code == 201
    sign_in(page, vigil.url, vigil.read, "#/rules")
    section = page.locator("section.rule-stats")
    expect(section.get_by_label("Period")).to_have_value("7d")
    cells = section.locator(f"tbody tr[data-rule={crowd_rule}][data-camera=street] td")
    expect(cells).to_have_text([crowd_rule, "street", "3", "1", "1", "1", "50%", "50%"])
    give(vigil, unjudged, {"verdict": "confirmed"})  # the table follows without a reload
    expect(cells).to_have_text([crowd_rule, "street", "3", "2", "1", "1", "67%", "67%"])
    section.scroll_into_view_if_needed()
    shot(page, artifacts_dir, "rules-stats")
    section.get_by_label("Period").select_option("custom")
    yesterday = datetime.fromtimestamp(time.time() - 86_400, UTC)
    section.get_by_label("From (UTC)").fill(yesterday.strftime("%Y-%m-%dT00:00"))
    section.get_by_label("To (UTC)").fill(yesterday.strftime("%Y-%m-%dT01:00"))
    expect(section).to_contain_text("No alerts or missed events in this period")


def test_the_context_clip_kept_for_feedback_plays_on_the_alert_page(
    vigil: LiveVigil, page: Page
) -> None:
    start, end = buffered_period(vigil)
    with vigil.http() as http:
        body = {"camera": "street", "rule": "person", "start": start, "end": end}
        marked = http.post("/v1/feedback/missed", json=body)
    assert marked.status_code == 201, marked.text
    without = stored_alert(vigil)
    sign_in(page, vigil.url, vigil.read, f"#/alerts/{without}")
    expect(page.get_by_role("heading", name="Feedback")).to_be_visible()
    expect(page.get_by_role("button", name="Show the context clip")).to_be_hidden()
    kept = stored_alert(vigil)
    with connect(vigil.redis_url) as client:
        client.hset(vigil.keys.alert(kept), "context_clip", marked.json()["clip"])
    page.goto(f"{vigil.url}/#/alerts/{kept}")
    page.get_by_role("button", name="Show the context clip").click()
    video = page.get_by_label("Context clip")
    expect(video).to_be_visible()
    page.wait_for_function(VIDEO_PLAYS, arg=video.element_handle(), timeout=20_000)
