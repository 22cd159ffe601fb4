"""Prometheus text exposition of Vigil's counters and camera health. Pure functions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

HEALTH_COUNTERS = {
    "frames_in": "Frames received from the camera.",
    "frames_decoded": "Frames decoded: the others could never be sampled and were skipped.",
    "frames_out": "Sampled frames stored in the rolling buffer.",
    "dropped": "Sampled frames dropped because Redis fell behind.",
    "reconnects": "Reconnections to the camera.",
}
HEALTH_GAUGES = {"fps_in": "Received frames per second.", "fps_out": "Stored frames per second."}
# The label of a counter's ``name:label`` keys where it is not a camera.
COUNTER_LABELS = {"part_restarts": "part", "dead_letters": "group"}
COUNTER_HELP = {
    "part_restarts": "Restarts of a part of a process after it failed.",
    "dead_letters": "Stream entries a consumer group moved to its dead letters.",
}


@dataclass(frozen=True, slots=True)
class Sample:
    name: str
    labels: tuple[tuple[str, str], ...]
    value: float


def escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def metric_name(name: str) -> str:
    cleaned = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name)
    return f"vigil_{cleaned}"


def render(families: Iterable[tuple[str, str, str, list[Sample]]]) -> str:
    """``families``: (name, type, help, samples) -> the text format, one family at a time."""
    lines: list[str] = []
    for name, kind, text, samples in families:
        lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
        for sample in samples:
            labels = ",".join(f'{key}="{escape(value)}"' for key, value in sample.labels)
            lines.append(
                f"{sample.name}{{{labels}}} {sample.value:g}"
                if labels
                else f"{sample.name} {sample.value:g}"
            )
    return "\n".join(lines) + "\n"


def counter_families(counters: Mapping[str, int]) -> list[tuple[str, str, str, list[Sample]]]:
    """The ``metrics`` hash: labelled samples (by camera, or ``COUNTER_LABELS``) where a
    counter has them, else its total."""
    labelled: dict[str, list[Sample]] = {}
    totals: dict[str, int] = {}
    texts: dict[str, str] = {}
    for key, value in sorted(counters.items()):
        name, _, label = key.partition(":")
        family = metric_name(name) + "_total"
        texts[family] = COUNTER_HELP.get(name, f"Pipeline counter {family}.")
        if label:
            labels = ((COUNTER_LABELS.get(name, "camera"), label),)
            labelled.setdefault(family, []).append(Sample(family, labels, value))
        else:
            totals[family] = value
    families = []
    for family in sorted(set(labelled) | set(totals)):
        samples = labelled.get(family) or [Sample(family, (), totals[family])]
        families.append((family, "counter", texts[family], samples))
    return families


def health_families(
    records: Mapping[str, Mapping[str, str]],
) -> list[tuple[str, str, str, list[Sample]]]:
    """Per-camera ingest figures from the health records."""
    families = []
    for field, text in HEALTH_COUNTERS.items():
        family = f"vigil_camera_{field}_total"
        families.append((family, "counter", text, _samples(family, records, field)))
    for field, text in HEALTH_GAUGES.items():
        family = f"vigil_camera_{field}"
        families.append((family, "gauge", text, _samples(family, records, field)))
    online = [
        Sample("vigil_camera_online", (("camera", camera),), float(rec.get("state") == "online"))
        for camera, rec in sorted(records.items())
    ]
    families.append(("vigil_camera_online", "gauge", "1 when the camera streams.", online))
    return families


def _samples(family: str, records: Mapping[str, Mapping[str, str]], field: str) -> list[Sample]:
    return [
        Sample(family, (("camera", camera),), float(record[field]))
        for camera, record in sorted(records.items())
        if _is_number(record.get(field))
    ]


def _is_number(value: str | None) -> bool:
    try:
        float(value or "")
    except ValueError:
        return False
    return True
