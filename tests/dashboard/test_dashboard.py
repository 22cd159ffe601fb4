"""The dashboard in a real browser against a running Vigil: every page, live updates,
video playback, error states, and screenshots of each page at laptop and phone sizes."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, Route, expect

from agent.api.settings import ApiSettings
from agent.runtime.config import VigilSettings
from agent.runtime.startup import connect
from tests.api.conftest import running_api
from tests.conftest import free_port
from tests.dashboard.archived import ARCHIVED
from tests.dashboard.conftest import LAPTOP, PHONE, LiveVigil
from tests.pipeline.scripted_engine import SUMMARY
from tests.streams.helpers import wait_for
from tests.webhooks.receiver import Behaviour, Receiver

FRAME_HASH = """(img) => {
  const canvas = document.createElement("canvas");
  canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
  canvas.getContext("2d").drawImage(img, 0, 0);
  return canvas.toDataURL("image/png");
}"""


FRAME_SHOWN = "() => document.querySelector('[data-camera=street] img').naturalWidth > 0"
# SUMMARY names clip second 1.00; the pages show the UTC time it stands for after it.
PLACED_SUMMARY = re.compile(
    re.escape(SUMMARY).replace(r"1\.00s", r"1\.00s \(\d\d:\d\d:\d\d UTC\)") + "$"
)


def sign_in(page: Page, url: str, token: str, route: str = "") -> None:
    page.goto(f"{url}/{route}")
    page.get_by_label("API key").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#top nav")).to_be_visible()


def shot(page: Page, artifacts: Path, name: str) -> None:
    page.screenshot(path=str(artifacts / f"dashboard-{name}.png"), full_page=True)


def create_rule(vigil: LiveVigil, rule_id: str, question: str) -> None:
    body = {"id": rule_id, "question": question, "cameras": ["street"], "consecutive": 1,
            "close_after_s": 4.0, "cooldown_s": 0.0}  # fmt: skip
    with vigil.http() as http:
        assert http.post("/v1/rules", json=body).status_code == 201


def open_alert_of(vigil: LiveVigil, rule_id: str) -> dict[str, object]:
    found: list[dict[str, object]] = []

    def opened() -> bool:
        with vigil.http() as http:
            found[:] = http.get("/v1/alerts", params={"rule": rule_id}).json()["items"]
        return bool(found)

    wait_for(opened, 15, f"an alert of {rule_id}")
    return found[0]


@pytest.fixture(scope="module")
def summarized_alert(vigil: LiveVigil) -> str:
    """An alert the pipeline opened and summarized, with its evidence frames."""
    create_rule(vigil, "loiter", "Is someone loitering by the parked bikes?")
    vigil.engine.detect_from_now("loiter")
    alert_id = str(open_alert_of(vigil, "loiter")["id"])
    vigil.engine.stop_detecting("loiter")

    def summarized() -> bool:
        with vigil.http() as http:
            return bool(http.get(f"/v1/alerts/{alert_id}").json().get("summary") == SUMMARY)

    wait_for(summarized, 15, "the root-cause summary")
    return alert_id


def test_the_page_is_served_with_a_strict_policy(vigil: LiveVigil, page: Page) -> None:
    response = page.goto(vigil.url + "/")
    assert response is not None
    assert response.status == 200
    headers = response.headers
    assert "default-src 'self'" in headers["content-security-policy"]
    assert headers["cache-control"] == "no-cache"
    script = page.locator("script[type=module]").get_attribute("src")
    assert script is not None
    asset = page.request.get(vigil.url + script)
    assert asset.headers["content-type"].startswith("text/javascript")
    assert "immutable" in asset.headers["cache-control"]


def test_a_wrong_key_is_refused_at_sign_in(
    vigil: LiveVigil, page: Page, artifacts_dir: Path
) -> None:
    page.goto(vigil.url + "/")
    page.get_by_label("API key").fill("vk_not-a-key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Key refused")
    assert page.evaluate("sessionStorage.getItem('vigil.key')") is None
    expect(page.locator("#top")).to_be_hidden()
    shot(page, artifacts_dir, "signin-refused")


def test_the_camera_tile_shows_a_frame_that_changes(vigil: LiveVigil, page: Page) -> None:
    sign_in(page, vigil.url, vigil.read)
    tile = page.locator("[data-camera=street]")
    expect(tile).to_have_attribute("data-state", "online")
    expect(tile.locator(".rate")).to_have_text(re.compile(r"^[1-9][0-9.]* fps$"))
    image = tile.locator("img.frame")
    expect(image).to_have_attribute("src", re.compile("^blob:"))
    page.wait_for_function(FRAME_SHOWN)
    first = image.evaluate(FRAME_HASH)
    first_capture = float(tile.get_attribute("data-captured") or 0)
    page.wait_for_function(
        "(t) => Number(document.querySelector('[data-camera=street]').dataset.captured) > t",
        arg=first_capture,
    )
    page.wait_for_function(FRAME_SHOWN)
    assert image.evaluate(FRAME_HASH) != first
    assert page.evaluate("sessionStorage.getItem('vigil.key')") == vigil.read


def test_an_offline_camera_says_so(vigil: LiveVigil, page: Page) -> None:
    sign_in(page, vigil.url, vigil.read)
    tile = page.locator("[data-camera=ghost]")
    expect(tile).to_have_attribute("data-state", "offline")
    expect(tile.locator(".overlay")).to_contain_text("Camera offline")


def test_the_header_shows_the_mqtt_connection_without_reload(
    vigil: LiveVigil, page: Page, artifacts_dir: Path
) -> None:
    indicator = page.locator("#mqtt-state")
    with connect(vigil.redis_url) as client:
        try:
            with page.expect_response("**/v1/mqtt"):
                sign_in(page, vigil.url, vigil.read)
            expect(indicator).to_be_hidden()  # no publisher has reported: MQTT is off
            page.evaluate("window.sameDocument = true")
            client.hset(vigil.keys.mqtt_health, mapping={
                "state": "connected", "broker": "127.0.0.1:1883", "at": str(time.time()),
            })  # fmt: skip
            expect(indicator).to_have_text("MQTT connected (127.0.0.1:1883)", timeout=8_000)
            expect(indicator).to_have_attribute("role", "status")
            shot(page, artifacts_dir, "mqtt-connected-laptop")
            error = "connection refused <b>by</b> 127.0.0.1:1883 (errno 111)"
            client.hset(vigil.keys.mqtt_health, mapping={
                "state": "disconnected", "last_error": error, "at": str(time.time()),
            })  # fmt: skip
            expect(indicator).to_have_text(f"MQTT disconnected: {error}", timeout=8_000)
            expect(indicator).to_have_attribute("data-state", "disconnected")
            expect(indicator.locator("b")).to_have_count(0)  # the error lands as text
            assert page.evaluate("window.sameDocument") is True
            shot(page, artifacts_dir, "mqtt-disconnected-laptop")
            page.set_viewport_size(PHONE)  # type: ignore[arg-type]
            expect(indicator).to_be_visible()
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, "the MQTT error makes the phone page scroll sideways"
            shot(page, artifacts_dir, "mqtt-disconnected-phone")
        finally:
            client.delete(vigil.keys.mqtt_health)


def test_a_pipeline_alert_appears_in_the_timeline_without_reload(
    vigil: LiveVigil, page: Page
) -> None:
    sign_in(page, vigil.url, vigil.read, "#/alerts")
    expect(page.locator("#feed-state")).to_have_attribute("data-status", "live")
    page.evaluate("window.sameDocument = true")
    vigil.engine.detect_from_now("person")
    try:
        item = page.locator(".alert-item", has_text="person").first
        expect(item).to_be_visible(timeout=8_000)
    finally:
        vigil.engine.stop_detecting("person")
    expect(item).to_have_class(re.compile("fresh"))
    expect(item).to_contain_text("critical")
    assert page.evaluate("window.sameDocument") is True
    page.get_by_label("Severity").select_option("info")
    expect(page.locator(".alert-item", has_text="person")).to_have_count(0)
    expect(page.get_by_text("No alerts match these filters")).to_be_visible()


def test_the_detail_page_plays_the_evidence_and_acknowledges(
    vigil: LiveVigil, page: Page, summarized_alert: str
) -> None:
    sign_in(page, vigil.url, vigil.admin, f"#/alerts/{summarized_alert}")
    expect(page.locator("h1")).to_have_text("Is someone loitering by the parked bikes?")
    expect(page.locator(".summary")).to_have_text(PLACED_SUMMARY)
    page.get_by_text("The model's text").click()
    expect(page.locator(".model-text .raw")).to_have_text(SUMMARY)
    expect(page.locator(".reasoning")).to_have_text("looking")
    expect(page.locator("table.verdicts tbody tr")).to_have_count(1)
    video = page.locator(".evidence video")
    page.wait_for_function(
        "() => { const v = document.querySelector('.evidence video');"
        " return v && v.readyState >= 2 && v.videoWidth > 0 && v.currentTime > 0.3; }"
    )
    first = float(video.evaluate("v => v.currentTime"))
    page.wait_for_timeout(400)
    assert video.evaluate("v => v.currentTime") != first
    assert video.evaluate("v => v.videoHeight") > 28  # the picture and its timestamp strip
    page.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_role("button", name="Acknowledged")).to_be_disabled()
    expect(page.locator(".facts")).to_contain_text("by dashboard-admin")


def test_the_summary_names_the_wall_clock_time_of_its_clip_second(
    vigil: LiveVigil, summarized_alert: str
) -> None:
    with vigil.http() as http:
        alert = http.get(f"/v1/alerts/{summarized_alert}").json()
    assert alert["summary"] == SUMMARY
    (placed,) = alert["summary_times"]
    assert (placed["text"], placed["clip_s"]) == ("1.00s", 1.0)
    assert placed["at"] == pytest.approx(alert["summary_clip_start"] + 1.0, abs=1e-3)
    assert PLACED_SUMMARY.match(alert["summary_placed"])


def test_the_detail_page_shows_the_onset_beside_the_opening(
    vigil: LiveVigil, page: Page, summarized_alert: str
) -> None:
    def with_onset(route: Route) -> None:
        alert = route.fetch().json()
        route.fulfill(json={**alert, "onset_at": alert["opened_at"] - 6.0})

    page.route(f"**/v1/alerts/{summarized_alert}", with_onset)
    sign_in(page, vigil.url, vigil.read, f"#/alerts/{summarized_alert}")
    facts = page.locator(".facts")
    expect(facts.locator(".onset")).to_have_text(re.compile(r"\d\d:\d\d:\d\d UTC$"))
    expect(facts.locator(".opened")).to_have_text(re.compile(r"\d\d:\d\d:\d\d UTC$"))
    expect(facts).to_contain_text("(6.0 s later)")


def test_the_detail_page_says_how_long_the_event_was_seen(
    vigil: LiveVigil, page: Page, summarized_alert: str
) -> None:
    with vigil.http() as http:
        alert = http.get(f"/v1/alerts/{summarized_alert}").json()
    assert alert["last_seen"] >= alert["onset_at"]  # the pipeline's, from the evidence
    assert alert["seen_for_s"] == pytest.approx(alert["last_seen"] - alert["onset_at"], abs=1e-3)
    onset, last_seen = 1_800_000_007.0, 1_800_000_031.0  # 08:00:07 to 08:00:31 UTC
    seen = {"onset_at": onset, "last_seen": last_seen, "seen_for_s": 24.0}
    page.route(f"**/v1/alerts/{summarized_alert}", lambda r: r.fulfill(json={**alert, **seen}))
    sign_in(page, vigil.url, vigil.read, f"#/alerts/{summarized_alert}")
    row = page.locator(".facts dt", has_text="Seen for").locator("xpath=following-sibling::dd[1]")
    expect(row).to_have_text(
        "24 s (onset 2027-01-15 08:00:07 UTC → last seen 2027-01-15 08:00:31 UTC)"
    )
    page.unroute(f"**/v1/alerts/{summarized_alert}")
    older = {**alert, "last_seen": None, "seen_for_s": None}  # an alert from before last_seen
    page.route(f"**/v1/alerts/{summarized_alert}", lambda r: r.fulfill(json=older))
    page.reload()
    expect(page.locator(".facts")).to_contain_text("Camera")
    expect(row).to_have_text("—")


def test_a_rule_created_in_the_page_is_used_by_the_next_window(
    vigil: LiveVigil, page: Page
) -> None:
    sign_in(page, vigil.url, vigil.admin, "#/rules")
    page.get_by_label("Id", exact=True).fill("curb")
    page.get_by_label("Question").fill("Is a vehicle parked on the curb?")
    page.get_by_label("Cameras").fill("street")
    page.get_by_role("button", name="Save rule").click()
    card = page.locator("[data-rule=curb]")
    expect(card).to_contain_text("Is a vehicle parked on the curb?")
    created = time.time()
    wait_for(
        lambda: any(at > created and "curb" in ids for at, ids in vigil.engine.asked),
        8, "a window that asks the new rule",
    )  # fmt: skip
    card.get_by_role("button", name="Disable").click()
    expect(card).to_contain_text("disabled")
    disabled = time.time()
    wait_for(lambda: sum(at > disabled + 0.5 for at, _ in vigil.engine.asked) >= 2, 10, "windows")
    assert "curb" not in vigil.engine.asked[-1][1]
    card.get_by_role("button", name="Edit").click()
    page.get_by_label("Question").fill("Is a van parked on the curb?")
    page.get_by_label("Switched off on").fill("street")
    page.get_by_role("button", name="Save rule").click()
    expect(card).to_contain_text("Is a van parked on the curb?")
    expect(card).to_contain_text("switched off on street")
    card.get_by_role("button", name="Enable").click()  # keeps the camera switched off
    expect(card).to_contain_text("enabled")
    with vigil.http() as http:
        assert http.get("/v1/rules/curb").json()["disabled_cameras"] == ["street"]


def test_ask_returns_the_reasoning_and_the_answer(
    vigil: LiveVigil, page: Page, artifacts_dir: Path
) -> None:
    sign_in(page, vigil.url, vigil.read, "#/ask")
    page.get_by_label("Camera").select_option("street")
    page.get_by_label("Question").fill("Is anyone riding a bicycle?")
    page.get_by_role("button", name="Ask").click()
    expect(page.locator(".answer .summary")).to_have_text(PLACED_SUMMARY)
    expect(page.locator(".answer .model-text .raw")).to_have_text(SUMMARY)
    expect(page.locator(".answer .reasoning")).to_have_text("looking")
    expect(page.locator(".answer")).to_contain_text("frames")
    shot(page, artifacts_dir, "ask-answered")


def test_ask_without_an_engine_says_the_engine_is_unavailable(
    vigil: LiveVigil, page: Page, artifacts_dir: Path
) -> None:
    port = free_port()
    settings = VigilSettings(key_prefix=vigil.keys.prefix, api=ApiSettings(port=port))
    with running_api(vigil.redis_url, settings, vigil.keys):
        sign_in(page, f"http://127.0.0.1:{port}", vigil.read, "#/ask")
        page.get_by_label("Camera").select_option("street")
        page.get_by_label("Question").fill("Is anyone there?")
        page.get_by_role("button", name="Ask").click()
        expect(page.locator(".result")).to_contain_text("Engine unavailable")
        shot(page, artifacts_dir, "ask-engine-unavailable")
        page.goto("about:blank")  # ends the live feed, so the server stops at once


def cite_the_truck(records: str) -> str:
    """A history answer naming the record line about the truck by its tag, as the model would."""
    line = next(line for line in records.splitlines() if "white truck" in line)
    tag = re.match(r"\[(w\d+)\]", line)
    assert tag, line
    return f"A white truck unloaded crates [{tag[1]}]."


def test_ask_over_the_past_cites_windows_and_counts_from_the_archive(
    vigil: LiveVigil, page: Page, artifacts_dir: Path
) -> None:
    vigil.engine.records_answer = cite_the_truck
    asked_before = len(vigil.engine.records_read)
    try:
        sign_in(page, vigil.url, vigil.read, "#/ask")
        expect(page.get_by_label("Camera").locator("option")).to_have_count(3)  # loaded
        page.get_by_label("Camera").select_option("")
        page.get_by_label("Period").select_option("7d")
        expect(page.get_by_label("Last seconds")).to_be_hidden()
        page.get_by_label("Question").fill("When did a truck unload crates?")
        page.get_by_role("button", name="Ask").click()
        answer = page.locator(".answer.history")
        expect(answer.locator(".summary")).to_have_text(
            re.compile(r"^A white truck unloaded crates \[w\d+\]\.$")
        )
    finally:
        vigil.engine.records_answer = None
    assert len(vigil.engine.records_read) == asked_before + 1
    assert ARCHIVED["truck"].caption in vigil.engine.records_read[-1]
    vehicle = answer.locator(".history-facts tbody tr", has_text="vehicle")
    expect(vehicle.locator("td")).to_have_text(
        ["vehicle", "Street", "2", "2", "0", re.compile("UTC$"), re.compile("UTC$")]
    )
    cited = answer.get_by_role("list", name="Cited windows").locator(".hit")
    assert windows_of(cited) == [vigil.archived["truck"]]
    expect(cited.locator("img.frame")).to_have_attribute("src", re.compile("^blob:"))
    expect(answer.locator(".windows-read summary")).to_contain_text("Other windows the model read")
    expect(answer).to_contain_text("History of every camera")
    shot(page, artifacts_dir, "ask-history")
    citation = answer.locator(".summary button.citation")
    citation.click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Street at ")
    expect(dialog.locator(".facts")).to_contain_text(ARCHIVED["truck"].caption)
    page.wait_for_function("() => document.querySelector('dialog img.large')?.naturalWidth > 0")
    assert dialog.locator("img.large").evaluate(CENTRE_RGB) == pytest.approx(
        ARCHIVED["truck"].rgb, abs=12
    )
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(citation).to_be_focused()


def test_ask_over_an_empty_period_says_there_is_no_evidence(vigil: LiveVigil, page: Page) -> None:
    asked_before = len(vigil.engine.records_read)
    sign_in(page, vigil.url, vigil.read, "#/ask")
    page.get_by_label("Camera").select_option("ghost")
    page.get_by_label("Period").select_option("custom")
    page.get_by_label("From (UTC)").fill("2021-03-01T00:00")
    page.get_by_label("To (UTC)").fill("2021-03-02T00:00")
    page.get_by_label("Question").fill("Did anyone climb the fence?")
    page.get_by_role("button", name="Ask").click()
    expect(page.locator(".answer")).to_contain_text("No evidence in that period")
    expect(page.locator(".answer")).to_contain_text("camera ghost, 2021-03-01 00:00:00 UTC")
    assert len(vigil.engine.records_read) == asked_before  # no model call
    page.get_by_label("To (UTC)").fill("2021-02-01T00:00")
    page.get_by_role("button", name="Ask").click()
    expect(page.locator(".result")).to_contain_text("The range ends before it starts")


def test_ask_about_any_time_on_one_camera_reads_its_whole_archive(
    vigil: LiveVigil, page: Page
) -> None:
    asked_before = len(vigil.engine.records_read)
    sign_in(page, vigil.url, vigil.read, "#/ask")
    expect(page.get_by_label("Camera").locator("option")).to_have_count(3)  # loaded
    page.get_by_label("Camera").select_option("street")
    page.get_by_label("Period").select_option("all")
    page.get_by_label("Question").fill("When did a truck unload crates?")
    page.get_by_role("button", name="Ask").click()
    answer = page.locator(".answer.history")
    expect(answer).to_contain_text("History of camera street, the archive's start to ")
    assert len(vigil.engine.records_read) == asked_before + 1
    assert ARCHIVED["truck"].caption in vigil.engine.records_read[-1]  # 30 hours ago


def test_ask_about_the_last_seconds_needs_a_camera(vigil: LiveVigil, page: Page) -> None:
    sign_in(page, vigil.url, vigil.read, "#/ask")
    expect(page.get_by_label("Camera").locator("option")).to_have_count(3)  # loaded
    page.get_by_label("Camera").select_option("")
    page.get_by_label("Question").fill("Is anyone there?")
    page.get_by_role("button", name="Ask").click()
    expect(page.locator(".result")).to_contain_text("needs a camera")


def test_webhook_deliveries_dead_letters_and_redelivery(vigil: LiveVigil, page: Page) -> None:
    receiver = Receiver(free_port(), Behaviour(status=500)).start()
    try:
        sign_in(page, vigil.url, vigil.admin, "#/webhooks")
        page.get_by_label("URL").fill(receiver.url)
        page.get_by_label("Rules").fill("hooked")
        page.get_by_label("alert.opened").check()
        page.get_by_role("button", name="Save webhook").click()
        expect(page.get_by_text("store its secret now")).to_be_visible()
        card = page.locator("[data-webhook]")
        expect(card).to_contain_text(receiver.url)
        card.get_by_role("button", name="Send test").click()
        expect(page.locator(".message").first).to_contain_text("Test failed")
        create_rule(vigil, "hooked", "Is a cyclist crossing the street?")
        vigil.engine.detect_from_now("hooked")
        expect(card.locator(".delivery-status")).to_have_attribute("data-dead", "1", timeout=15_000)
        vigil.engine.stop_detecting("hooked")
        receiver.behaviour = Behaviour(status=204)
        card.get_by_role("button", name="Redeliver 1 dead letter").click()
        wait_for(lambda: len(receiver.received) == 1, 10, "the redelivered event")
        expect(card.locator(".delivery-status")).to_contain_text("last delivered")
        expect(card.locator(".delivery-status")).to_have_attribute("data-dead", "0")
        card.get_by_role("button", name="Disable").click()
        expect(page.locator("[data-webhook]")).to_contain_text("disabled")
    finally:
        receiver.stop()


CENTRE_RGB = """(img) => {
  const canvas = document.createElement("canvas");
  canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
  const context = canvas.getContext("2d");
  context.drawImage(img, 0, 0);
  const [x, y] = [img.naturalWidth >> 1, img.naturalHeight >> 1];
  return Array.from(context.getImageData(x, y, 1, 1).data.slice(0, 3));
}"""


def search(page: Page, text: str, **choices: str) -> Locator:
    """Searches with the page's form (``choices`` by field label); the result tiles."""
    page.get_by_label("Look for").fill(text)
    for label, value in choices.items():
        page.get_by_label(label, exact=True).select_option(value)
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.locator(".results")).not_to_have_attribute("aria-busy", "true")
    return page.locator(".hit")


def windows_of(hits: Locator) -> list[str]:
    return list(hits.evaluate_all("nodes => nodes.map((node) => node.dataset.window)"))


def utc_input(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M")


def test_search_finds_a_past_window_and_opens_its_thumbnail(
    vigil: LiveVigil, page: Page, artifacts_dir: Path
) -> None:
    sign_in(page, vigil.url, vigil.read, "#/search")
    expect(page.get_by_text("Search what the cameras saw")).to_be_visible()
    hits = search(page, "someone cycling past the gate")
    bicycle = vigil.archived["bicycle"]
    assert windows_of(hits)[0] == bicycle
    first = hits.first
    expect(first).to_contain_text(ARCHIVED["bicycle"].caption)
    expect(first.locator(".hit-camera")).to_have_text("ghost")
    expect(first.locator(".when")).to_have_text(re.compile(r"\d\d:\d\d:\d\d UTC$"))
    expect(first.locator(".badge.detected")).to_have_text("person")
    expect(first.locator("img.frame")).to_have_attribute("src", re.compile("^blob:"))
    assert "q=someone+cycling+past+the+gate" in page.evaluate("location.hash")
    first.get_by_role("button").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("ghost at ")
    expect(dialog).to_contain_text("no longer in the buffer")
    expect(dialog.locator(".facts")).to_contain_text(ARCHIVED["bicycle"].caption)
    expect(dialog.locator("tr.detected")).to_have_count(1)
    expect(dialog.locator("tr.detected")).to_contain_text("person")
    large = dialog.locator("img.large")
    page.wait_for_function("() => document.querySelector('dialog img.large')?.naturalWidth > 0")
    assert large.evaluate(CENTRE_RGB) == pytest.approx(ARCHIVED["bicycle"].rgb, abs=12)
    shot(page, artifacts_dir, "search-window")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(first.get_by_role("button")).to_be_focused()
    page.keyboard.press("Enter")  # the keyboard opens it again
    expect(page.get_by_role("dialog")).to_be_visible()
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()


def test_search_filters_by_camera_rule_and_time(vigil: LiveVigil, page: Page) -> None:
    sign_in(page, vigil.url, vigil.read, "#/search")
    truck, van = vigil.archived["truck"], vigil.archived["van"]
    assert windows_of(search(page, "a truck unloading crates"))[0] == truck
    recent = windows_of(search(page, "a truck unloading crates", Time="24h"))
    assert truck not in recent
    assert van in recent
    hits = search(page, "a bicycle", Camera="street", Time="")
    assert vigil.archived["bicycle"] not in windows_of(hits)
    expect(hits.locator(".hit-camera")).to_have_text(["Street"] * hits.count())
    hits = search(page, "a person", Camera="", **{"Detected rule": "person"})
    assert hits.count() >= 1
    expect(hits.locator(".badge.detected", has_text="person")).to_have_count(hits.count())
    page.get_by_label("Detected rule").select_option("")
    page.get_by_label("Time", exact=True).select_option("custom")
    truck_s = int(truck.split(":")[1]) / 1000
    page.get_by_label("From (UTC)").fill(utc_input(truck_s - 3600))
    page.get_by_label("To (UTC)").fill(utc_input(truck_s + 3600))
    assert windows_of(search(page, "anything at all")) == [truck]
    page.reload()  # the search is in the address
    expect(page.get_by_label("From (UTC)")).to_have_value(utc_input(truck_s - 3600))
    expect(page.locator(".hit")).to_have_count(1)
    assert windows_of(page.locator(".hit")) == [truck]


def test_search_says_when_nothing_matches(vigil: LiveVigil, page: Page) -> None:
    sign_in(page, vigil.url, vigil.read, "#/search")
    hits = search(page, "a bicycle", Camera="ghost", Time="1h")
    expect(hits).to_have_count(0)
    expect(page.locator(".message")).to_contain_text("Nothing matches")
    expect(page.locator(".search-count")).to_have_text("0 windows")
    search(page, "   ", Camera="", Time="")
    expect(page.get_by_role("alert")).to_contain_text("Check the search")


def test_search_explains_a_missing_archive_and_errors(vigil: LiveVigil, page: Page) -> None:
    answers = iter([(503, "this API has no archive configured"), (500, "the archive broke")])

    def failing(route: Route) -> None:
        status, detail = next(answers)
        route.fulfill(status=status, json={"detail": detail})

    page.route(re.compile(r"/v1/search\?"), failing)
    sign_in(page, vigil.url, vigil.read, "#/search")
    search(page, "a bicycle")
    expect(page.locator(".message")).to_contain_text("The archive isn't configured")
    search(page, "a bicycle")
    expect(page.get_by_role("alert")).to_contain_text("Search failed")
    expect(page.get_by_role("alert")).to_contain_text("the archive broke")


def test_search_lists_matching_alerts_linked_to_their_page(
    vigil: LiveVigil, page: Page, summarized_alert: str
) -> None:
    alert = open_alert_of(vigil, "loiter")

    def with_alerts(route: Route) -> None:
        route.fulfill(json={**route.fetch().json(), "alerts": [alert]})

    page.route(re.compile(r"/v1/search\?"), with_alerts)
    sign_in(page, vigil.url, vigil.read, "#/search")
    search(page, "someone loitering by the bikes")
    found = page.locator(".search-alerts")
    expect(found.locator("h2")).to_have_text("Alerts (1)")
    expect(page.locator(".search-count")).to_contain_text("1 alert")
    found.get_by_role("link").click()
    expect(page.locator("h1")).to_have_text("Is someone loitering by the parked bikes?")


def test_a_buffered_window_plays_its_clip(
    vigil: LiveVigil, page: Page, artifacts_dir: Path
) -> None:
    def clip_ready() -> bool:
        params = {"q": "scripted scene", "camera": "street", "since": time.time() - 300}
        with vigil.http() as http:
            windows = http.get("/v1/search", params=params).json()["windows"]
        return any(window["clip_url"] for window in windows)

    wait_for(clip_ready, 60, "an archived window whose frames are buffered")
    sign_in(page, vigil.url, vigil.read, "#/search")
    hits = search(page, "scripted scene", Camera="street", Time="1h")
    buffered = hits.filter(has=page.locator(".badge.clip")).first
    expect(buffered).to_contain_text("A scripted scene from")
    buffered.get_by_role("button").click()
    page.wait_for_function(
        "() => { const v = document.querySelector('dialog video');"
        " return v && v.readyState >= 2 && v.videoWidth > 0 && v.currentTime > 0.3; }"
    )
    expect(page.locator("dialog video")).to_have_attribute("src", re.compile("^blob:"))
    shot(page, artifacts_dir, "search-clip")


def test_every_page_at_laptop_and_phone_size(
    vigil: LiveVigil, page: Page, summarized_alert: str, artifacts_dir: Path
) -> None:
    sign_in(page, vigil.url, vigil.admin)
    routes = {"cameras": "#/cameras", "alerts": "#/alerts", "alert": f"#/alerts/{summarized_alert}",
              "search": "#/search?q=a+person+on+a+bicycle", "ask": "#/ask", "rules": "#/rules",
              "webhooks": "#/webhooks", "zones": "#/cameras/street/zones"}  # fmt: skip
    for size_name, size in (("laptop", LAPTOP), ("phone", PHONE)):
        page.set_viewport_size(size)  # type: ignore[arg-type]
        for name, route in routes.items():
            page.goto(f"{vigil.url}/{route}")
            expect(page.locator("h1")).to_be_visible()
            page.wait_for_timeout(1200)  # frames, health and lists arrive
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{name} scrolls sideways at {size_name} size"
            shot(page, artifacts_dir, f"{name}-{size_name}")


def test_the_pages_are_reachable_by_keyboard(vigil: LiveVigil, page: Page) -> None:
    sign_in(page, vigil.url, vigil.read)
    page.locator("body").focus()
    reached = []
    for _ in range(16):
        page.keyboard.press("Tab")
        reached.append(page.evaluate("document.activeElement.textContent.trim()"))
    names = (
        "Skip to content",
        "Cameras",
        "Alerts",
        "Search",
        "Ask",
        "Reports",
        "Rules",
        "Webhooks",
        "Sign out",
    )
    for name in names:
        assert name in reached
    while page.evaluate("document.activeElement.textContent.trim()") != "Ask":
        page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("Ask")
    expect(page.locator("h1")).to_be_focused()
