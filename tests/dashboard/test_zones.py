"""Zones in a real browser against a running Vigil: polygons clicked on the latest frame land
in the camera's stored config at the right relative points at any displayed size, a point
dragged moves, the server's refusal is shown, and tiles and alert evidence outline zones.

Where a point is on screen is worked out here from the element's box and the frame's size
(picture above a 28-px strip, shown with ``object-fit: contain``), not by the page's code.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, Route, expect

from agent.runtime.startup import connect
from tests.dashboard.conftest import PHONE, LiveVigil
from tests.dashboard.test_dashboard import create_rule, open_alert_of, shot, sign_in

STRIP_PX = 28
IMAGE_SIZE = "(image) => [image.naturalWidth, image.naturalHeight]"
VIDEO_SIZE = "(video) => [video.videoWidth, video.videoHeight]"
EDITOR_FRAME = "() => document.querySelector('.editor-frame')?.naturalWidth > 0"
LANE = [(0.1, 0.2), (0.6, 0.25), (0.55, 0.9), (0.15, 0.8)]
CLOCK = [(0.75, 0.05), (0.95, 0.05), (0.95, 0.3)]
BOWTIE = [(0.2, 0.2), (0.8, 0.8), (0.8, 0.2), (0.2, 0.7)]
TOLERANCE = 0.006  # of the picture: a pixel or so at phone size


@dataclass(frozen=True)
class Picture:
    """Where the picture, strip excluded, shows on screen."""

    left: float
    top: float
    width: float
    height: float

    def at(self, x: float, y: float) -> tuple[float, float]:
        return self.left + x * self.width, self.top + y * self.height


def picture_of(element: Locator, size_script: str) -> Picture:
    box = element.bounding_box()
    assert box is not None
    frame_width, frame_height = element.evaluate(size_script)
    scale = min(box["width"] / frame_width, box["height"] / frame_height)
    left = box["x"] + (box["width"] - frame_width * scale) / 2
    top = box["y"] + (box["height"] - frame_height * scale) / 2
    return Picture(left, top, frame_width * scale, (frame_height - STRIP_PX) * scale)


def relative(points: list[tuple[float, float]]) -> list[list[float]]:
    return [[x, y] for x, y in points]


def put_zones(vigil: LiveVigil, body: dict[str, Any]) -> None:
    with vigil.http() as http:
        assert http.put("/v1/cameras/street/zones", json=body).status_code == 200


def stored_zones(vigil: LiveVigil) -> dict[str, Any]:
    with connect(vigil.redis_url) as client:
        document = client.hget(vigil.keys.cameras, "street")
    assert isinstance(document, bytes)
    camera = json.loads(document)
    return {"zones": camera["zones"], "masks": camera["masks"]}


def assert_near(stored: list[list[float]], expected: list[tuple[float, float]]) -> None:
    assert len(stored) == len(expected), stored
    for got, want in zip(stored, expected, strict=True):
        assert got == pytest.approx(list(want), abs=TOLERANCE), (stored, expected)


def click_points(page: Page, picture: Picture, points: list[tuple[float, float]]) -> None:
    for x, y in points:
        page.mouse.click(*picture.at(x, y))


def save(page: Page) -> None:
    with page.expect_response(lambda r: r.request.method == "PUT" and "/zones" in r.url):
        page.get_by_role("button", name="Save zones").click()


def open_editor(page: Page, vigil: LiveVigil) -> Locator:
    sign_in(page, vigil.url, vigil.admin, "#/cameras/street/zones")
    expect(page.locator("h1")).to_have_text("Zones of Street")
    page.wait_for_function(EDITOR_FRAME)
    return page.locator(".editor-frame")


@pytest.fixture
def street(vigil: LiveVigil) -> Iterator[None]:
    """The street camera without zones or masks, before and after."""
    put_zones(vigil, {})
    yield
    put_zones(vigil, {})


@pytest.mark.usefixtures("street")
def test_a_zone_and_a_mask_drawn_on_the_frame_are_stored_and_a_point_dragged(
    vigil: LiveVigil, page: Page, artifacts_dir: Path
) -> None:
    sign_in(page, vigil.url, vigil.admin)
    page.get_by_role("link", name="Zones and masks of Street").click()
    expect(page.locator("h1")).to_have_text("Zones of Street")
    page.wait_for_function(EDITOR_FRAME)
    picture = picture_of(page.locator(".editor-frame"), IMAGE_SIZE)
    page.get_by_role("button", name="Add zone").click()
    click_points(page, picture, LANE)
    expect(page.locator(".zone-row .points-count")).to_contain_text("4 points, drawing")
    page.keyboard.press("Enter")
    zone_row = page.locator(".zone-row[data-kind=zone]")
    zone_row.get_by_label("Zone name").fill("lane")
    page.get_by_role("button", name="Add mask").click()
    click_points(page, picture, CLOCK)
    page.locator(".handle.first").click()  # the first point closes the polygon
    page.locator(".zone-row[data-kind=mask]").get_by_label("Mask name").fill("clock")
    expect(page.locator(".draft-state")).to_have_text("Unsaved changes")
    save(page)
    expect(page.locator(".message")).to_contain_text("1 zone(s) and 1 mask(s)")
    expect(page.locator(".draft-state")).to_have_text("")
    stored = stored_zones(vigil)
    assert [zone["name"] for zone in stored["zones"]] == ["lane"]
    assert_near(stored["zones"][0]["points"], LANE)
    assert [mask["name"] for mask in stored["masks"]] == ["clock"]
    assert_near(stored["masks"][0]["points"], CLOCK)
    mask = page.locator(".editor-layer .outline.mask[data-zone=clock] polygon")
    expect(mask).to_have_attribute("fill", re.compile(r"^url\(#layer-\d+-hatch\)$"))
    shot(page, artifacts_dir, "zones-editor-laptop")

    page.set_viewport_size(PHONE)  # type: ignore[arg-type]
    zone_row.get_by_role("button", name="Edit points").click()
    picture = picture_of(page.locator(".editor-frame"), IMAGE_SIZE)
    handle = page.locator(".handle[data-index='2']")
    box = handle.bounding_box()
    assert box is not None
    start = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    assert start == pytest.approx(picture.at(*LANE[2]), abs=2)  # drawn where it was clicked
    moved = (0.7, 0.6)
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(*picture.at(*moved), steps=6)
    page.mouse.up()
    save(page)
    expect(page.locator(".message")).to_contain_text("Zones saved")
    assert_near(stored_zones(vigil)["zones"][0]["points"], [*LANE[:2], moved, LANE[3]])
    assert_near(stored_zones(vigil)["masks"][0]["points"], CLOCK)
    shot(page, artifacts_dir, "zones-editor-phone")


@pytest.mark.usefixtures("street")
def test_a_crossing_polygon_is_refused_with_the_servers_reason(
    vigil: LiveVigil, page: Page, artifacts_dir: Path
) -> None:
    put_zones(vigil, {"zones": [{"name": "lane", "points": relative(LANE)}]})
    image = open_editor(page, vigil)
    expect(page.locator(".editor-layer .outline[data-zone=lane]")).to_have_count(1)
    picture = picture_of(image, IMAGE_SIZE)
    page.get_by_role("button", name="Add zone").click()
    click_points(page, picture, BOWTIE)
    page.keyboard.press("Enter")
    page.locator(".zone-row[data-kind=zone]").last.get_by_label("Zone name").fill("bowtie")
    save(page)
    refusal = page.get_by_role("alert")
    expect(refusal).to_contain_text("Zones not saved")
    expect(refusal).to_contain_text('zone "bowtie"')
    expect(refusal).to_contain_text("edge from point 1 to point 2 crosses its edge from point 3")
    expect(page.locator(".zone-row.selected input")).to_have_value("bowtie")
    stored = stored_zones(vigil)
    assert stored == {"zones": [{"name": "lane", "points": relative(LANE)}], "masks": []}
    shot(page, artifacts_dir, "zones-refused")

    # Enter refuses two points; Escape drops the polygon being drawn.
    page.get_by_role("button", name="Add mask").click()
    click_points(page, picture, CLOCK[:2])
    page.keyboard.press("Enter")
    expect(page.locator(".message")).to_contain_text("needs at least 3 points; this one has 2")
    page.keyboard.press("Escape")
    expect(page.locator(".zone-row")).to_have_count(2)
    expect(page.locator(".editor-layer .drawing")).to_have_count(0)

    # The keyboard moves and deletes points; the bowtie goes.
    page.get_by_role("button", name="Delete zone bowtie").click()
    page.locator(".zone-row[data-kind=zone]").get_by_role("button", name="Edit points").click()
    page.locator(".handle[data-index='0']").focus()
    page.keyboard.press("Shift+ArrowRight")
    page.locator(".handle[data-index='3']").focus()
    page.keyboard.press("Delete")
    expect(page.locator(".handle")).to_have_count(3)
    page.keyboard.press("Delete")  # three points is the least
    expect(page.locator(".message")).to_contain_text("keeps at least 3 points")
    save(page)
    expect(page.locator(".message")).to_contain_text("1 zone(s) and 0 mask(s)")
    (lane,) = stored_zones(vigil)["zones"]
    assert_near(lane["points"], [(LANE[0][0] + 0.02, LANE[0][1]), *LANE[1:3]])


@pytest.mark.usefixtures("street")
def test_zones_are_outlined_on_the_camera_tile(
    vigil: LiveVigil, page: Page, artifacts_dir: Path
) -> None:
    clock = {"name": "clock", "points": relative(CLOCK)}
    put_zones(vigil, {"zones": [{"name": "lane", "points": relative(LANE)}], "masks": [clock]})
    sign_in(page, vigil.url, vigil.read)
    tile = page.locator("[data-camera=street]")
    lane = tile.locator(".outline.zone[data-zone=lane]")
    expect(lane).to_have_text("lane")
    expect(tile.locator(".outline.mask[data-zone=clock]")).to_have_count(1)
    expect(page.locator("[data-camera=ghost] .outline")).to_have_count(0)
    picture = picture_of(tile.locator("img.frame"), IMAGE_SIZE)
    box = lane.locator("polygon").bounding_box()
    assert box is not None
    xs, ys = [x for x, _ in LANE], [y for _, y in LANE]
    left, top = picture.at(min(xs), min(ys))
    right, bottom = picture.at(max(xs), max(ys))
    assert [box["x"], box["y"], box["x"] + box["width"], box["y"] + box["height"]] == pytest.approx(
        [left, top, right, bottom], abs=2
    )
    shot(page, artifacts_dir, "cameras-zones")


@pytest.fixture(scope="module")
def alert_id(vigil: LiveVigil) -> str:
    create_rule(vigil, "lane-watch", "Is a cyclist riding in the bus lane?")
    vigil.engine.detect_from_now("lane-watch")
    try:
        return str(open_alert_of(vigil, "lane-watch")["id"])
    finally:
        vigil.engine.stop_detecting("lane-watch")


def wait_for_evidence(page: Page) -> Locator:
    page.wait_for_function(
        "() => { const v = document.querySelector('.evidence video');"
        " return v && v.readyState >= 1 && v.videoWidth > 0; }"
    )
    return page.locator(".evidence video")


def test_the_alert_detail_outlines_the_zones_the_model_was_shown(
    vigil: LiveVigil, page: Page, alert_id: str, artifacts_dir: Path
) -> None:
    sign_in(page, vigil.url, vigil.read, f"#/alerts/{alert_id}")
    wait_for_evidence(page)
    expect(page.locator(".evidence .outline")).to_have_count(0)  # a whole-picture rule
    expect(page.locator(".zone-legend")).to_have_count(0)

    lane = {"name": "lane", "label": "A", "colour": "magenta", "hex": "#ff00ff",
            "points": relative(LANE)}  # fmt: skip

    def with_zones(route: Route) -> None:
        route.fulfill(json={**route.fetch().json(), "zones": [lane]})

    page.route(f"**/v1/alerts/{alert_id}", with_zones)
    page.reload()
    video = wait_for_evidence(page)
    outline = page.locator(".evidence .outline[data-zone=lane]")
    expect(outline).to_have_text("A · lane")
    expect(outline.locator("polygon")).to_have_attribute("stroke", "#ff00ff")
    legend = page.locator(".zone-legend")
    expect(legend).to_have_text("Zones the model was shown: A · lane (magenta)")
    picture = picture_of(video, VIDEO_SIZE)
    box = outline.locator("polygon").bounding_box()
    assert box is not None
    assert box["x"] == pytest.approx(picture.at(0.1, 0)[0], abs=2)
    assert box["y"] == pytest.approx(picture.at(0, 0.2)[1], abs=2)
    assert box["y"] + box["height"] == pytest.approx(picture.at(0, 0.9)[1], abs=2)
    assert box["x"] + box["width"] == pytest.approx(picture.at(0.6, 0)[0], abs=2)
    shot(page, artifacts_dir, "alert-zones")
