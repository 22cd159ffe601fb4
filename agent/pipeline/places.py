"""Rules about places: which of a camera's zones a rule looks at, and how one call shows them.

A rule that names zones is asked about a camera only where the camera has at least one of
them; a rule without zones looks at the whole picture. The zones of all the rules asked in
one call are outlined together, each once, and each rule's question names its own.
"""

from __future__ import annotations

import json
from typing import Any

from agent.engines.prompts import Question, zone_question
from agent.pipeline.rules import Rule
from streams.picture.marks import Mark, Marks, marks_for
from streams.zones import CameraZones, Zone

NO_ZONES = CameraZones()


def rule_zones(rule: Rule, camera: CameraZones) -> list[Zone] | None:
    """The camera's zones the rule is about: [] for the whole picture, None when the rule
    names zones the camera has none of (then it is not asked about this camera)."""
    if not rule.zones:
        return []
    return camera.named(rule.zones) or None


def placed_rules(rules: list[Rule], camera: CameraZones) -> list[Rule]:
    """The rules that can be asked about this camera: those whose zones it has."""
    return [rule for rule in rules if rule_zones(rule, camera) is not None]


def call_marks(rules: list[Rule], camera: CameraZones) -> tuple[Marks, list[Question]]:
    """What one call for these rules draws, and its questions naming each rule's zones.
    The clip is cropped only when every rule asked wants it (one picture serves them all)."""
    zones_of = {rule.id: rule_zones(rule, camera) or [] for rule in rules}
    drawn = list({zone.name: zone for zones in zones_of.values() for zone in zones}.values())
    crop = bool(rules) and all(rule.zone_crop and zones_of[rule.id] for rule in rules)
    marks = marks_for(drawn, crop)
    by_name = marks.by_name()
    questions = [
        Question(
            rule.id,
            zone_question(
                rule.question,
                [
                    (by_name[zone.name].label, by_name[zone.name].colour)
                    for zone in zones_of[rule.id]
                ],
            ),
        )
        for rule in rules
    ]
    return marks, questions


def rule_marks(marks: Marks, rule: Rule) -> tuple[Mark, ...]:
    """The outlines of one rule's zones among those a call drew."""
    return tuple(mark for mark in marks.marks if mark.name in rule.zones)


def marks_json(marks: tuple[Mark, ...]) -> str:
    return json.dumps([mark_document(mark) for mark in marks])


def mark_document(mark: Mark) -> dict[str, Any]:
    """A drawn zone as alerts, webhooks and the dashboard show it."""
    return {
        "name": mark.name,
        "label": mark.label,
        "colour": mark.colour,
        "hex": mark.hex,
        "points": [list(point) for point in mark.points],
    }


def marks_from_json(text: str | None) -> tuple[Mark, ...]:
    """Drawn zones back from ``marks_json``; none for an empty or absent field."""
    if not text:
        return ()
    return tuple(
        Mark(
            item["name"],
            item["label"],
            item["colour"],
            _rgb(item["hex"]),
            tuple((float(x), float(y)) for x, y in item["points"]),
        )
        for item in json.loads(text)
    )


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    value = int(hex_colour.lstrip("#"), 16)
    return value >> 16 & 0xFF, value >> 8 & 0xFF, value & 0xFF
