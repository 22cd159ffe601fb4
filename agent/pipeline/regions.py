"""Where each rule looks when the scheduler gates a window: motion and change scored
inside the rule's zones, less the camera's masks, on the motion thumbnail's grid. Pure.

A rule without zones on a camera without masks looks at the whole grid, which is the
motion score ingest stores: its gating is the camera-wide gating as it always was.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agent.pipeline.places import rule_zones
from agent.pipeline.rules import Rule
from streams.picture.motion import THUMB_SIZE, Thumbnail, change_map, unpack_changes
from streams.zones import CameraZones, Region, region


@dataclass(frozen=True, slots=True)
class Sample:
    """One stored frame as the scheduler reads it from ``motion:{cam}``."""

    ms: int
    motion: float  # share of the whole picture changed since the previous frame
    changes: bytes = b""  # which cells changed (packed); empty from an older ingest


def rule_regions(rules: list[Rule], camera: CameraZones) -> dict[str, Region]:
    """Each rule's cells: its zones on this camera (the whole picture without), less masks."""
    columns, rows = THUMB_SIZE
    return {
        rule.id: region(rule_zones(rule, camera) or [], camera.masks, columns, rows)
        for rule in rules
    }


def motion_within(samples: list[Sample], cells: Region) -> float:
    """The largest frame-to-frame motion inside the cells, as a share of them. A frame
    stored without its change map counts with its whole-picture score."""
    if cells.all():
        return max((sample.motion for sample in samples), default=0.0)
    area = np.count_nonzero(cells)
    if not area:
        return 0.0
    largest = 0.0
    for sample in samples:
        changed = unpack_changes(sample.changes)
        share = sample.motion if changed is None else np.count_nonzero(changed & cells) / area
        largest = max(largest, share)
    return float(largest)


def change_within(reference: Thumbnail | None, picture: Thumbnail, cells: Region) -> float:
    """The share of the cells changed between two pictures; 1.0 without a reference."""
    if reference is None or reference.shape != picture.shape:
        return 1.0
    area = np.count_nonzero(cells)
    if not area:
        return 0.0
    return float(np.count_nonzero(change_map(reference, picture) & cells)) / area
