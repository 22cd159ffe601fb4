"""Reports in a real browser against a running Vigil: a report made through the form is
listed and opens; its summary's [wN] citations lead to the thumbnails of the archived
windows it cites; its alerts link to their page; the printable page opens with the summary
and its thumbnails under the dashboard's policy; schedules are saved by an admin key only.

The reports are built by the real builder from the test archive (the ``bicycle`` window on
camera ``ghost`` two hours ago, with rule ``person`` detected) and the pipeline's alerts;
the scripted engine writes the summary."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from tests.dashboard.archived import ARCHIVED
from tests.dashboard.conftest import LAPTOP, PHONE, LiveVigil
from tests.dashboard.test_dashboard import CENTRE_RGB, open_alert_of, shot, sign_in

HOUR_S = 3600.0
BICYCLE_SUMMARY = re.compile(
    r"^On ghost a man rode a bicycle past the gate \[w\d+\]; nothing else\.$"
)
THUMBNAIL_SHOWN = "(img) => img.complete && img.naturalWidth > 0"


def cite_the_bicycle(records: str) -> str:
    """The summary as the model would write it: the bicycle's window cited by its tag."""
    line = next(
        line for line in records.splitlines() if line.startswith("[w") and "bicycle" in line
    )
    tag = re.match(r"\[(w\d+)\]", line)
    assert tag, line
    return f"On ghost a man rode a bicycle past the gate [{tag[1]}]; nothing else."


@pytest.fixture
def bicycle_summary(vigil: LiveVigil) -> Iterator[None]:
    vigil.engine.records_answer = cite_the_bicycle
    yield
    vigil.engine.records_answer = None


@pytest.fixture
def bicycle_report(vigil: LiveVigil, bicycle_summary: None) -> dict[str, Any]:
    """A report on ghost over the last eight hours, made through the API."""
    now = time.time()
    body = {"cameras": ["ghost"], "since": now - 8 * HOUR_S, "until": now}
    with vigil.http() as http:
        made = http.post("/v1/reports", json=body)
    assert made.status_code == 201, made.text
    report: dict[str, Any] = made.json()
    assert [w["window"] for w in report["windows"] if w["cited"]] == [vigil.archived["bicycle"]]
    return report


def input_epoch(value: str) -> float:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M").replace(tzinfo=UTC).timestamp()


def utc_input(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M")


def test_a_report_made_in_the_form_is_listed_and_opens(
    vigil: LiveVigil, page: Page, bicycle_summary: None, artifacts_dir: Path
) -> None:
    sign_in(page, vigil.url, vigil.read, "#/reports")
    expect(page.locator("#top nav a[aria-current=page]")).to_have_text("Reports")
    since = input_epoch(page.get_by_label("From (UTC)").input_value())
    until = input_epoch(page.get_by_label("To (UTC)").input_value())
    assert until - since == 8 * HOUR_S
    assert abs(until - time.time()) <= 60
    page.get_by_label("ghost", exact=True).check()
    page.get_by_role("button", name="Make report").click()
    expect(page.locator(".report-request [role=status]")).to_contain_text("Report made")
    with vigil.http() as http:
        newest = http.get("/v1/reports", params={"limit": 1}).json()[0]
    assert newest["cameras"] == ["ghost"]
    assert (newest["since"], newest["until"]) == (since, until)
    item = page.locator(f".report-item[data-report='{newest['id']}']")
    expect(item).to_have_class(re.compile("fresh"))
    expect(page.locator(".report-item").first).to_have_attribute("data-report", newest["id"])
    expect(item.locator(".what")).to_have_text("ghost")
    expect(item.locator(".badge")).to_have_text(["notable", "0 alerts", "on request"])
    shot(page, artifacts_dir, "reports-made")
    page.locator(".report-request").get_by_role("link", name="Open it").click()
    expect(page.locator("h1")).to_have_text("Report")
    expect(page.locator(".report-summary")).to_have_text(BICYCLE_SUMMARY)
    counts = page.locator(".report-counts tbody tr")
    expect(counts).to_have_count(1)
    expect(counts.locator("td")).to_have_text(
        ["person", "ghost", "0", "1", "1", re.compile("UTC$"), re.compile("UTC$")]
    )
    page.get_by_role("link", name="← Reports").click()
    item.get_by_role("link").click()  # the list opens it too
    expect(page.locator(".report-summary")).to_have_text(BICYCLE_SUMMARY)


def test_the_form_shows_why_a_report_was_refused(vigil: LiveVigil, page: Page) -> None:
    sign_in(page, vigil.url, vigil.read, "#/reports")
    until = input_epoch(page.get_by_label("To (UTC)").input_value())
    page.get_by_label("From (UTC)").fill(utc_input(until - 8 * 86_400))  # over a week
    page.get_by_role("button", name="Make report").click()
    refusal = page.locator(".report-request [role=alert]")
    expect(refusal).to_contain_text("Check the period and cameras")
    expect(refusal).to_contain_text("until must be after since and at most 604800 s later")
    page.get_by_label("From (UTC)").fill(utc_input(until + HOUR_S))
    page.get_by_role("button", name="Make report").click()
    expect(refusal).to_contain_text("The period ends before it starts")


def test_a_citation_leads_to_the_cited_windows_thumbnail(
    vigil: LiveVigil, page: Page, bicycle_report: dict[str, Any], artifacts_dir: Path
) -> None:
    page.set_viewport_size({"width": LAPTOP["width"], "height": 420})
    sign_in(page, vigil.url, vigil.read, f"#/reports/{bicycle_report['id']}")
    expect(page.locator(".report-summary")).to_have_text(BICYCLE_SUMMARY)
    tiles = page.get_by_role("list", name="Cited windows").locator(".hit")
    expect(tiles).to_have_count(1)
    tile = tiles.first
    expect(tile).to_have_attribute("data-window", vigil.archived["bicycle"])
    expect(tile).to_contain_text(ARCHIVED["bicycle"].caption)
    expect(tile.locator(".badge.tag")).to_have_text(re.compile(r"^\[w\d+\]$"))
    image = tile.locator("img.frame")
    expect(image).to_have_attribute("src", re.compile("^blob:"))
    page.wait_for_function(THUMBNAIL_SHOWN, arg=image.element_handle())
    assert image.evaluate(CENTRE_RGB) == pytest.approx(ARCHIVED["bicycle"].rgb, abs=12)
    expect(tile).not_to_be_in_viewport()
    citation = page.locator(".report-summary button.citation")
    expect(citation).to_have_text(tile.locator(".badge.tag").inner_text())
    citation.click()
    expect(tile).to_be_in_viewport()
    expect(tile.get_by_role("button")).to_be_focused()
    expect(tile).to_have_class(re.compile("cited-target"))
    shot(page, artifacts_dir, "report-cited")
    page.keyboard.press("Enter")  # the tile opens the window
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("no longer in the buffer")
    expect(dialog.locator(".facts")).to_contain_text(ARCHIVED["bicycle"].caption)
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(tile.get_by_role("button")).to_be_focused()


def test_the_print_button_opens_the_printable_page(
    vigil: LiveVigil, page: Page, bicycle_report: dict[str, Any], artifacts_dir: Path
) -> None:
    policy_errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            policy_errors.append(message.text)

    page.context.on("console", on_console)
    sign_in(page, vigil.url, vigil.read, f"#/reports/{bicycle_report['id']}")
    expect(page.locator(".report-summary")).to_have_text(BICYCLE_SUMMARY)
    with page.expect_popup() as opened:
        page.get_by_role("button", name="Print").click()
    printable = opened.value
    expect(printable.locator("h1")).to_have_text(f"Report {bicycle_report['id']}")
    expect(printable.locator(".summary")).to_have_text(bicycle_report["summary"])
    expect(printable).to_have_title(f"Report {bicycle_report['id']}")
    figure = printable.locator("figure")
    expect(figure).to_have_count(1)
    expect(figure).to_contain_text(ARCHIVED["bicycle"].caption)
    thumbnail = figure.locator("img")
    expect(thumbnail).to_have_attribute("src", re.compile("^blob:"))
    printable.wait_for_function(THUMBNAIL_SHOWN, arg=thumbnail.element_handle())
    assert thumbnail.evaluate(CENTRE_RGB) == pytest.approx(ARCHIVED["bicycle"].rgb, abs=12)
    assert printable.evaluate("getComputedStyle(document.body).marginTop") == "32px"  # its style
    shot(printable, artifacts_dir, "report-printable")
    assert not policy_errors, policy_errors


def test_a_reports_alerts_link_to_their_page(vigil: LiveVigil, page: Page) -> None:
    started = time.time()
    vigil.engine.detect_from_now("person")
    try:
        alert = open_alert_of(vigil, "person")
    finally:
        vigil.engine.stop_detecting("person")
    body = {"cameras": ["street"], "since": started - 60, "until": time.time() + 1}
    with vigil.http() as http:
        made = http.post("/v1/reports", json=body)
    assert made.status_code == 201, made.text
    report = made.json()
    sign_in(page, vigil.url, vigil.read, f"#/reports/{report['id']}")
    row = page.locator(".report-timeline tbody tr[data-kind=alert]").first
    link = row.get_by_role("link", name="alert: person")
    expect(link).to_have_attribute("href", f"#/alerts/{alert['id']}")
    expect(row).to_contain_text("Street")
    link.click()
    expect(page.locator("h1")).to_have_text("Is a person standing in the street?")
    assert page.evaluate("location.hash") == f"#/alerts/{alert['id']}"


def test_a_schedule_is_saved_by_an_admin_and_refused_for_a_read_key(
    vigil: LiveVigil, page: Page, artifacts_dir: Path
) -> None:
    def stored() -> dict[str, dict[str, Any]]:
        with vigil.http() as http:
            return {s["id"]: s for s in http.get("/v1/reports/schedules").json()}

    try:
        sign_in(page, vigil.url, vigil.admin, "#/reports")
        save_schedule(page, "night", "06:00", "8", "ghost, street")
        row = page.locator("[data-schedule=night]")
        expect(row).to_contain_text("Daily at 06:00 UTC, over the 8 hours before · ghost, street")
        assert stored()["night"]["cameras"] == ["ghost", "street"]
        row.get_by_role("button", name="Edit schedule night").click()
        expect(page.get_by_label("Schedule id")).to_have_js_property("readOnly", True)
        page.get_by_label("Hours").fill("10")
        page.get_by_label("Schedule cameras").fill("")
        page.get_by_role("button", name="Save schedule").click()
        expect(row).to_contain_text("over the 10 hours before · every camera")
        assert (stored()["night"]["hours"], stored()["night"]["cameras"]) == (10, [])
        save_schedule(page, "spare", "18:30", "2", "")
        expect(page.locator("[data-schedule=spare]")).to_be_visible()
        page.get_by_role("button", name="Delete schedule spare").click()
        expect(page.locator("[data-schedule=spare]")).to_have_count(0)
        assert set(stored()) == {"night"}
        page.get_by_role("button", name="Sign out").click()

        sign_in(page, vigil.url, vigil.read, "#/reports")
        expect(page.locator(".report-schedules")).to_contain_text("Signed in with a read key")
        expect(page.locator("[data-schedule=night]")).to_contain_text("10 hours")
        save_schedule(page, "day", "18:00", "12", "")
        refusal = page.locator(".schedule-form [role=alert]")
        expect(refusal).to_contain_text("Needs an admin key")
        page.get_by_role("button", name="Delete schedule night").click()
        expect(page.locator(".report-schedules > .message [role=alert]")).to_contain_text(
            "Needs an admin key"
        )
        expect(page.locator("[data-schedule=night]")).to_be_visible()
        shot(page, artifacts_dir, "reports-schedule-refused")
        assert set(stored()) == {"night"}
    finally:
        with vigil.http() as http:
            for schedule_id in stored():
                http.delete(f"/v1/reports/schedules/{schedule_id}")


def save_schedule(page: Page, schedule_id: str, at: str, hours: str, cameras: str) -> None:
    page.get_by_label("Schedule id").fill(schedule_id)
    page.get_by_label("At (UTC)").fill(at)
    page.get_by_label("Hours").fill(hours)
    page.get_by_label("Schedule cameras").fill(cameras)
    page.get_by_role("button", name="Save schedule").click()


def test_the_reports_pages_at_laptop_and_phone_size(
    vigil: LiveVigil, page: Page, bicycle_report: dict[str, Any], artifacts_dir: Path
) -> None:
    sign_in(page, vigil.url, vigil.admin)
    routes = {"reports": "#/reports", "report": f"#/reports/{bicycle_report['id']}"}
    for size_name, size in (("laptop", LAPTOP), ("phone", PHONE)):
        page.set_viewport_size(size)  # type: ignore[arg-type]
        for name, route in routes.items():
            page.goto(f"{vigil.url}/{route}")
            expect(page.locator(".report-item, .report-summary").first).to_be_visible()
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{name} scrolls sideways at {size_name} size"
            shot(page, artifacts_dir, f"{name}-{size_name}")
