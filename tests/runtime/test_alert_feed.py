"""The terminal's ALERT lines stay one readable line whatever the model answers."""

from __future__ import annotations

from agent.runtime.alert_feed import TEXT_MAX_CHARS, describe

OPENED = {
    "type": "alert.opened", "camera": "dock", "rule": "lane", "severity": "critical",
    "window": {"start": 1_800_000_000.0, "end": 1_800_000_008.0}, "confidence": 0.91,
    "onset": 1_800_000_003.25,
}  # fmt: skip


def test_an_opening_names_its_onset_and_confirmation() -> None:
    line = describe({**OPENED, "description": "a person in the lane"})
    assert line.startswith("ALERT OPENED     [critical] dock · lane at ")
    assert "(onset " in line
    assert line.endswith(": a person in the lane (confidence 0.91)")


def test_noise_from_the_model_stays_one_bounded_printable_line() -> None:
    noise = "\x1b[31m\x00zz\n\r\t" + "ş₭" * 3000 + "\u200b\x07"
    line = describe({**OPENED, "description": noise})
    assert "\n" not in line
    assert "\r" not in line
    assert all(char.isprintable() for char in line)
    assert len(line) < len(describe({**OPENED, "description": ""})) + TEXT_MAX_CHARS + 1
    summary = describe({"type": "alert.summarized", "camera": "dock", "rule": "lane",
                        "summary": noise})  # fmt: skip
    assert all(char.isprintable() for char in summary)
    assert summary.endswith("…")
