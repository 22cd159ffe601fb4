"""The labelled set: videos, the rules asked of them, and when each event really happens.

A YAML file lists the videos (each becomes a camera of the same id; paths are relative
to the file) and the rules, each with the videos it applies to, its alert settings as a
``Rule`` has them, and the ground truth: per video, the ``[start_s, end_s]`` intervals in
video seconds (from its first frame) where the rule's answer is yes::

    videos:
      - id: stays
        path: stays.mp4
    rules:
      - id: red-object
        question: Is a red object in the picture?
        videos: [stays]
        consecutive: 2
        events:
          stays: [[14.0, 38.0]]

Everything wrong with a file is a ``LabelError`` that says where.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from agent.pipeline.rules import Rule
from streams.config import CAMERA_ID_PATTERN
from streams.ingest.file_sampling import FileSamplingError, video_duration_s
from streams.zones import ZONES_MAX, CameraZones, Zone

Interval = tuple[float, float]


class LabelError(ValueError):
    """The labelled set cannot be used; the message says where and why."""


class VideoLabel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(pattern=CAMERA_ID_PATTERN, description="The camera id it plays as.")]
    path: Annotated[str, Field(min_length=1, description="Relative to the labels file.")]
    zones: list[Zone] = Field(default=[], max_length=ZONES_MAX)
    masks: list[Zone] = Field(default=[], max_length=ZONES_MAX)


class LabelledRule(Rule):
    """A rule with the videos it applies to (instead of cameras) and its ground truth."""

    videos: list[str] = Field(min_length=1)
    events: dict[str, list[Interval]] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _no_cameras(cls, data: Any) -> Any:
        if isinstance(data, dict) and "cameras" in data:
            raise ValueError("a labelled rule names its videos, not cameras")
        return data

    def rule(self) -> Rule:
        """The rule as the pipeline stores it, restricted to the rule's videos."""
        return Rule(**self.model_dump(exclude={"videos", "events", "cameras"}), cameras=self.videos)


class LabelFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    videos: list[VideoLabel] = Field(min_length=1)
    rules: list[LabelledRule] = Field(min_length=1)


@dataclass(frozen=True, slots=True)
class LabelSet:
    path: Path
    file: LabelFile
    durations_s: dict[str, float]  # video id -> seconds

    @property
    def video_ids(self) -> list[str]:
        return [video.id for video in self.file.videos]

    def video_path(self, video_id: str) -> Path:
        entry = next(video for video in self.file.videos if video.id == video_id)
        return (self.path.parent / entry.path).resolve()

    def camera_zones(self, video_id: str) -> CameraZones:
        """The zones and masks of the camera the video plays as."""
        entry = next(video for video in self.file.videos if video.id == video_id)
        return CameraZones(zones=entry.zones, masks=entry.masks)

    def rules(self) -> list[Rule]:
        return [labelled.rule() for labelled in self.file.rules]

    def events(self, rule_id: str, video_id: str) -> list[Interval]:
        """The rule's labelled events in the video, in order (KeyError: no such rule)."""
        rules = {rule.id: rule for rule in self.file.rules}
        return sorted(rules[rule_id].events.get(video_id, []))


def load_labels(path: Path) -> LabelSet:
    """Reads and checks a labels file, including the length of every video it names."""
    file = _parse(path, _read_yaml(path))
    _check_ids(path, file)
    durations = {video.id: _duration_s(path, video) for video in file.videos}
    for index, rule in enumerate(file.rules):
        for video_id, intervals in rule.events.items():
            where = f"{path}: rules[{index}] ({rule.id}).events.{video_id}"
            _check_intervals(where, intervals, durations[video_id])
    return LabelSet(path, file, durations)


def _read_yaml(path: Path) -> object:
    try:
        return yaml.safe_load(path.read_text())
    except OSError as error:
        raise LabelError(f"cannot read {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise LabelError(f"{path} is not valid YAML: {error}") from None


def _parse(path: Path, document: object) -> LabelFile:
    if not isinstance(document, dict):
        raise LabelError(f"{path}: the top level must be a mapping with videos and rules")
    try:
        return LabelFile.model_validate(document)
    except ValidationError as error:
        lines = [
            f"{path}: {_location(item['loc'])}: {item['msg']}"
            for item in error.errors(include_url=False, include_input=False)
        ]
        raise LabelError("\n".join(lines)) from None


def _location(parts: tuple[int | str, ...]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text.removeprefix(".") or "file"


def _check_ids(path: Path, file: LabelFile) -> None:
    video_ids = [video.id for video in file.videos]
    for name, ids in (("video", video_ids), ("rule", [rule.id for rule in file.rules])):
        repeated = sorted({item for item in ids if ids.count(item) > 1})
        if repeated:
            raise LabelError(f"{path}: {name} ids appear twice: {', '.join(repeated)}")
    for index, rule in enumerate(file.rules):
        where = f"{path}: rules[{index}] ({rule.id})"
        unknown = sorted(set(rule.videos) - set(video_ids))
        if unknown:
            raise LabelError(f"{where}.videos: unknown video ids {', '.join(unknown)}")
        stray = sorted(set(rule.events) - set(rule.videos))
        if stray:
            raise LabelError(
                f"{where}.events: {', '.join(stray)} not among the rule's videos "
                f"({', '.join(rule.videos)})"
            )


def _duration_s(path: Path, video: VideoLabel) -> float:
    try:
        return video_duration_s((path.parent / video.path).resolve())
    except FileSamplingError as error:
        raise LabelError(f"{path}: video {video.id}: {error}") from None


def _check_intervals(where: str, intervals: list[Interval], duration_s: float) -> None:
    for number, (start, end) in enumerate(intervals):
        place = f"{where}[{number}] [{start:g}, {end:g}]"
        if start < 0 or end <= start:
            raise LabelError(f"{place}: an event needs 0 <= start < end")
        if end > duration_s:
            raise LabelError(f"{place}: ends after the video ({duration_s:g} s)")
    ordered = sorted(intervals)
    for (start, end), (next_start, next_end) in itertools.pairwise(ordered):
        if next_start <= end:
            raise LabelError(
                f"{where}: events [{start:g}, {end:g}] and [{next_start:g}, {next_end:g}] overlap"
            )
