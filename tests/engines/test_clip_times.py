"""Clip seconds in the model's free text placed on the wall clock: the forms the model
writes, what is not a time, and generated texts (seeded, so every run checks the same)."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from agent.engines.clip_times import EN_DASH, SLACK_S, place_times

START = 1_750_000_000.4  # 2025-06-15 15:06:40.4 UTC
ANNOTATION = re.compile(r" \(([^()]*) UTC\)")


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("A person appears at 3.00s and stays until 9.00s.", [("3.00s", 3.0), ("9.00s", 9.0)]),
        ("at 3.0 s, 4 sec, 5 secs and 6.5 seconds", [("3.0 s", 3.0), ("4 sec", 4.0),
                                                    ("5 secs", 5.0), ("6.5 seconds", 6.5)]),
        ("a van at 00:03, gone by 0:07.5", [("00:03", 3.0), ("0:07.5", 7.5)]),
        ("the door opens 3-9s", [("3", 3.0), ("9s", 9.0)]),
        ("from 3.00s to 9.00s", [("3.00s", 3.0), ("9.00s", 9.0)]),
        (f"3.00s {EN_DASH} 9.00s", [("3.00s", 3.0), ("9.00s", 9.0)]),
        ("between 3 and 9 seconds", [("3", 3.0), ("9 seconds", 9.0)]),
        ("at 3s and 9s", [("3s", 3.0), ("9s", 9.0)]),
        ("at the very end, 10.40s", [("10.40s", 10.4)]),  # past 10 s, within the slack
        ("9.00s before leaving", [("9.00s", 9.0)]),  # the strip's form: an instant
        ("from 2.00s to 20.00s", [("2.00s", 2.0)]),  # the range leaves the clip
    ],
)  # fmt: skip
def test_the_forms_the_model_writes_are_found(text: str, found: list[tuple[str, float]]) -> None:
    placed = place_times(text, START, 10.0)
    assert [(time.text, time.clip_s) for time in placed.times] == found
    assert all(time.at == round(START + time.clip_s, 3) for time in placed.times)
    assert ANNOTATION.sub("", placed.text) == text


@pytest.mark.parametrize(
    "text",
    [
        "2 people and 3 cars in lane 4, 3.5 m from camera 12",
        "in the 1990s",
        "at 14:02:05 UTC, that is 2025-06-15T15:06:43Z",
        "it stays for 3 seconds",
        "for about 3.00s",
        "2 s later, then every 2 seconds",
        "in the first 3 seconds",
        "2-3 seconds later",
        "2 seconds after the car",
        "a 3 second gap",
        "until 12.00s",  # past the clip's end
        "a 3-second window",
        "00:03s",
        "",
    ],
)
def test_what_is_not_a_clip_time_is_left_alone(text: str) -> None:
    placed = place_times(text, START, 10.0)
    assert placed.times == ()
    assert placed.text == text


def test_times_are_written_in_utc_after_the_time_or_the_range() -> None:
    placed = place_times("in at 2.60s, out 3-9s, from 0.75s to 1.00s.", START, 10.0)
    assert placed.text == (
        f"in at 2.60s (15:06:43 UTC), out 3-9s (15:06:43{EN_DASH}15:06:49 UTC), "
        "from 0.75s to 1.00s (15:06:41 UTC)."
    )


def test_the_date_is_written_when_the_time_is_on_a_later_day() -> None:
    before_midnight = datetime(2025, 6, 15, 23, 59, 57, tzinfo=UTC).timestamp()
    placed = place_times("from 1.00s to 5.00s", before_midnight, 8.0)
    assert placed.text == f"from 1.00s to 5.00s (23:59:58{EN_DASH}2025-06-16 00:00:02 UTC)"


# Generated texts: times written in every form among numbers that are not times.


@dataclass(frozen=True)
class Written:
    text: str
    clocks: list[float]  # clip seconds of the annotation that follows it
    times: list[tuple[str, float]]


def instant(rng: random.Random, seconds: float) -> tuple[str, float]:
    whole = float(int(seconds))
    forms = [
        (f"{seconds:.2f}s", seconds), (f"{seconds:.1f} s", round(seconds, 1)),
        (f"{seconds:.2f} seconds", seconds), (f"{whole:g}s", whole), (f"{whole:g} sec", whole),
        (f"{int(whole) // 60:02d}:{int(whole) % 60:02d}", whole),
    ]  # fmt: skip
    return rng.choice(forms)


def written_time(rng: random.Random, duration_s: float) -> Written:
    start, end = sorted(rng.randrange(0, int(duration_s * 4) + 1) / 4 for _ in range(2))
    if rng.random() < 0.6:
        text, seconds = instant(rng, start)
        return Written(f"at {text}", [seconds], [(text, seconds)])
    first, second = f"{start:.2f}s", f"{end:.2f}s"
    forms = [f"from {first} to {second}", f"{first}{EN_DASH}{second}", f"{first} - {second}"]
    text = rng.choice(forms)
    return Written(text, [start, end], [(first, start), (second, end)])


def not_a_time(rng: random.Random, duration_s: float) -> str:
    n, far = rng.randrange(1, 100), duration_s + SLACK_S + rng.randrange(1, 50)
    return rng.choice([
        f"{n} people", f"camera {n}", f"{n / 10:.1f} m away", f"lane {n}", f"for {n} seconds",
        f"{n} s later", f"at {far:.2f}s", f"every {n} seconds", f"about {n}% of the frame",
    ])  # fmt: skip


def utc_clock(epoch_s: float) -> str:
    return datetime.fromtimestamp(round(epoch_s), tz=UTC).strftime("%H:%M:%S")


def test_generated_texts_place_exactly_the_times_they_were_written_with() -> None:
    rng = random.Random(20250615)
    for _ in range(400):
        start_s = rng.uniform(1.6e9, 1.9e9)
        duration_s = rng.randrange(4, 65) / rng.choice([1, 2, 4])
        parts: list[str] = []
        expected: list[Written] = []
        for _ in range(rng.randrange(0, 6)):
            if rng.random() < 0.5:
                expected.append(written_time(rng, duration_s))
                parts.append(f"Something moves {expected[-1].text}.")
            else:
                parts.append(f"There are {not_a_time(rng, duration_s)}.")
        text = " ".join(parts)
        placed = place_times(text, start_s, duration_s)
        assert [(t.text, t.clip_s) for t in placed.times] == [
            time for written in expected for time in written.times
        ], text
        assert all(t.at == round(start_s + t.clip_s, 3) for t in placed.times)
        assert ANNOTATION.sub("", placed.text) == text
        clocks = [
            EN_DASH.join(dict.fromkeys(utc_clock(start_s + s) for s in written.clocks))
            for written in expected
        ]
        if datetime.fromtimestamp(start_s + duration_s, tz=UTC).day == (
            datetime.fromtimestamp(start_s, tz=UTC).day
        ):
            assert ANNOTATION.findall(placed.text) == clocks, text
