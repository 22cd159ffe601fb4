"""The bundled footage: made the same every time, labelled to the frame, and still where the
scenes say still (by the motion score ingest computes)."""

from __future__ import annotations

import filecmp
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from agent.eval.drawing import FPS, HEIGHT, WIDTH
from agent.eval.footage import decoded_frames, generate
from agent.eval.labels import LabelSet
from agent.eval.pixel_engine import HUE_BANDS, MIN_SHARE, colour_shares, question_colour, showing
from agent.eval.zone_footage import LANE, VIDEO_ZONES, ZONE_RULE
from agent.pipeline.settings import PipelineSettings
from streams.decode.sampling import RateSampler
from streams.picture.motion import THUMB_SIZE, Thumbnail, change_map, motion_score, thumbnail
from streams.zones import region

THRESHOLD = PipelineSettings().motion_threshold
Runs = list[tuple[int, int]]
ZONED = set(VIDEO_ZONES)


@dataclass(frozen=True)
class Decoded:
    """One video as a decoder gives it: what the rule sees in each frame, and the motion
    score of each 4-FPS sample (capture second, score) as ingest computes it."""

    runs: dict[str, Runs]  # colour -> runs of frames showing it
    motion: list[tuple[float, float]]


def runs(seen: npt.NDArray[np.bool_]) -> Runs:
    edges = np.diff(np.concatenate([[0], seen.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1, strict=True))


def decode(path: Path) -> Decoded:
    seen: dict[str, list[npt.NDArray[np.bool_]]] = {colour: [] for colour in HUE_BANDS}
    sampler, previous = RateSampler(4.0), None
    motion: list[tuple[float, float]] = []
    batch: list[npt.NDArray[np.uint8]] = []
    for index, picture in decoded_frames(path, lambda index: True):
        if sampler.take(index / FPS + 0.13):  # any phase of the wall clock against the video
            current: Thumbnail = thumbnail(np.ascontiguousarray(picture[:, :, ::-1]))
            motion.append((index / FPS, motion_score(previous, current)))
            previous = current
        batch.append(picture)
        if len(batch) == 50:
            look(np.stack(batch), seen)
            batch = []
    if batch:
        look(np.stack(batch), seen)
    return Decoded({c: runs(np.concatenate(flags)) for c, flags in seen.items()}, motion)


def look(pictures: npt.NDArray[np.uint8], seen: dict[str, list[npt.NDArray[np.bool_]]]) -> None:
    for colour, share in colour_shares(pictures, HUE_BANDS, strip_height=0).items():
        seen[colour].append(share >= MIN_SHARE)


@pytest.fixture(scope="module")
def decoded(bundled: LabelSet) -> dict[str, Decoded]:
    return {video: decode(bundled.video_path(video)) for video in bundled.video_ids}


def test_the_footage_is_the_same_every_time(bundled_path: Path, tmp_path: Path) -> None:
    again = generate(tmp_path)
    assert again.read_text() == bundled_path.read_text()
    names = [path.name for path in bundled_path.parent.glob("*.mp4")]
    assert len(names) == 9
    _, mismatch, errors = filecmp.cmpfiles(bundled_path.parent, tmp_path, names, shallow=False)
    assert (mismatch, errors) == ([], [])


def test_each_label_is_where_the_pixel_rule_sees_its_colour_to_the_frame(
    bundled: LabelSet, decoded: dict[str, Decoded]
) -> None:
    """Every run of frames showing a colour is an event of the rule asking about it, with
    its first and last frame as start and end; colours no rule asks about are never seen."""
    for video in bundled.video_ids:
        for colour in HUE_BANDS:
            rules = [r.id for r in bundled.file.rules if question_colour(r.question) == colour]
            if video in ZONED:
                continue  # labelled inside the lane: see the next test
            labelled = [
                (round(start * FPS), round(end * FPS))
                for rule in rules
                for start, end in bundled.events(rule, video)
            ]
            assert decoded[video].runs[colour] == labelled, (video, colour)


def lane_runs(path: Path) -> Runs:
    """Runs of frames showing yellow inside the lane."""
    corners = np.array([[x * WIDTH, y * HEIGHT] for x, y in LANE.points], np.int32)
    lane = cv2.fillPoly(np.zeros((HEIGHT, WIDTH), np.uint8), [corners], 1).astype(bool)
    seen = [
        bool(showing(picture[None], "yellow", strip_height=0, within=lane[None])[0])
        for _, picture in decoded_frames(path, lambda index: True)
    ]
    return runs(np.array(seen))


def test_the_lane_scenes_show_yellow_in_the_lane_only_where_labelled(
    bundled: LabelSet, decoded: dict[str, Decoded]
) -> None:
    ((start, end),) = bundled.events(ZONE_RULE, "lane-in")
    assert lane_runs(bundled.video_path("lane-in")) == [(round(start * FPS), round(end * FPS))]
    assert lane_runs(bundled.video_path("lane-out")) == []
    assert decoded["lane-out"].runs["yellow"] == decoded["lane-in"].runs["yellow"]  # elsewhere
    assert not any(decoded["lane-busy"].runs.values())


def share_within(changed: npt.NDArray[np.bool_], cells: npt.NDArray[np.bool_]) -> float:
    return np.count_nonzero(changed & cells) / np.count_nonzero(cells)


def test_motion_in_the_lane_busy_scene_is_outside_the_lane_or_masked(
    bundled: LabelSet, decoded: dict[str, Decoded]
) -> None:
    """Every sample of ``lane-busy`` moves more than the threshold, and none inside the
    lane once the screen is masked: the scene the zone must keep gated."""
    assert min(m for _, m in decoded["lane-busy"].motion[1:]) >= THRESHOLD
    video = next(v for v in bundled.file.videos if v.id == "lane-busy")
    cells = region(video.zones, video.masks, *THUMB_SIZE)
    unmasked = region(video.zones, [], *THUMB_SIZE)
    inside, unmasked_inside = [], []
    sampler, previous = RateSampler(4.0), None
    for index, picture in decoded_frames(bundled.video_path("lane-busy"), lambda i: True):
        if not sampler.take(index / FPS + 0.13):
            continue
        current = thumbnail(np.ascontiguousarray(picture[:, :, ::-1]))
        if previous is not None:
            changed = change_map(previous, current)
            inside.append(np.count_nonzero(changed & cells) / np.count_nonzero(cells))
            unmasked_inside.append(
                np.count_nonzero(changed & unmasked) / np.count_nonzero(unmasked)
            )
        previous = current
    assert max(inside) < THRESHOLD
    assert max(unmasked_inside) >= THRESHOLD  # the mask is what keeps the screen out


def test_every_scene_but_busy_and_quiet_has_its_events_and_they_show_nothing_coloured(
    bundled: LabelSet, decoded: dict[str, Decoded]
) -> None:
    assert all(not runs for runs in decoded["busy"].runs.values())
    assert all(not runs for runs in decoded["quiet"].runs.values())
    for video in ("stays", "passes", "slow", "two"):
        events = [e for rule in bundled.file.rules for e in bundled.events(rule.id, video)]
        assert events, video
        first_start = min(start for start, _ in events)
        last_start = max(start for start, _ in events)
        assert first_start >= 8.0  # the first window of the grid may start that late
        assert bundled.durations_s[video] - last_start >= 20.0  # time to confirm and alert


def test_still_stretches_stay_under_the_motion_threshold(
    bundled: LabelSet, decoded: dict[str, Decoded]
) -> None:
    """The red object resting in `stays` (while the small grey thing keeps moving) and the
    whole of `slow` (the spill grows under the threshold) are still for motion gating."""
    ((start, end),) = bundled.events("red-object", "stays")
    resting = [m for t, m in decoded["stays"].motion if start + 1.5 <= t <= end - 1.5]
    assert len(resting) > 80
    assert 0 < max(resting) < THRESHOLD
    growing = [m for _, m in decoded["slow"].motion[1:]]
    assert max(growing) < THRESHOLD
    quiet = [m for _, m in decoded["quiet"].motion[1:]]
    assert 0 < max(quiet) < THRESHOLD


def test_things_that_move_show_as_motion(bundled: LabelSet, decoded: dict[str, Decoded]) -> None:
    """Every 2 s of the red object crossing `passes`, each arrival and departure in `two`,
    and all of `busy` move more than the threshold."""
    ((start, end),) = bundled.events("red-object", "passes")
    crossing = decoded["passes"].motion
    for moment in np.arange(start, end - 2.0, 2.0):
        assert max(m for t, m in crossing if moment <= t < moment + 2.0) >= THRESHOLD, moment
    for event in bundled.events("green-object", "two"):
        for edge in event:
            near = [m for t, m in decoded["two"].motion if abs(t - edge) <= 1.0]
            assert max(near) >= THRESHOLD, edge
    assert min(m for _, m in decoded["busy"].motion) >= THRESHOLD
