"""The labelled-set file: what loads, and the error each kind of bad file gets."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from agent.eval.labels import LabelError, LabelSet, load_labels
from agent.pipeline.rules import Rule


def write(tmp_path: Path, bundled_path: Path, rules: list[dict[str, object]]) -> Path:
    """A labels file over two of the bundled videos (stays: 56 s, passes: 48 s)."""
    folder = bundled_path.parent
    document = {
        "videos": [
            {"id": "stays", "path": str(folder / "stays.mp4")},
            {"id": "passes", "path": str(folder / "passes.mp4")},
        ],
        "rules": rules,
    }
    path = tmp_path / "labels.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def red(**changes: object) -> dict[str, object]:
    rule: dict[str, object] = {
        "id": "red-object",
        "question": "Is a red object in the picture?",
        "videos": ["stays", "passes"],
        "events": {"stays": [[14.0, 38.0]]},
    }
    return {**rule, **changes}


def test_the_bundled_set_loads_with_its_rules_and_video_lengths(bundled: LabelSet) -> None:
    assert bundled.video_ids == [
        "stays", "passes", "slow", "two", "busy", "quiet",
        "lane-in", "lane-out", "lane-busy", "lane-busy-whole",
    ]  # fmt: skip
    assert bundled.durations_s == {
        "stays": 56.0, "passes": 48.0, "slow": 56.0, "two": 58.0, "busy": 50.0, "quiet": 120.0,
        "lane-in": 48.0, "lane-out": 48.0, "lane-busy": 96.0, "lane-busy-whole": 96.0,
    }  # fmt: skip
    assert bundled.video_path("lane-busy-whole") == bundled.video_path("lane-busy")
    assert [zone.name for zone in bundled.camera_zones("lane-in").zones] == ["lane"]
    assert bundled.camera_zones("lane-busy-whole").zones == []
    assert bundled.video_path("two").is_file()
    assert len(bundled.events("green-object", "two")) == 2
    assert bundled.events("green-object", "busy") == []


def test_a_labelled_rule_becomes_a_rule_for_its_videos(tmp_path: Path, bundled_path: Path) -> None:
    path = write(tmp_path, bundled_path, [red(consecutive=2, cooldown_s=0, threshold=0.7)])
    labels = load_labels(path)
    assert labels.rules() == [
        Rule(
            id="red-object", question="Is a red object in the picture?",
            cameras=["stays", "passes"], consecutive=2, cooldown_s=0.0, threshold=0.7,
        )
    ]  # fmt: skip
    assert labels.events("red-object", "stays") == [(14.0, 38.0)]


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (red(videos=["stays", "lobby"]),
         r"rules\[0\] \(red-object\)\.videos: unknown video ids lobby"),
        (red(events={"lobby": [[1, 2]]}), r"events: lobby not among the rule's videos"),
        (red(events={"passes": [[40.0, 50.0]]}),
         r"events\.passes\[0\] \[40, 50\]: ends after the video \(48 s\)"),
        (red(events={"stays": [[20.0, 10.0]]}),
         r"events\.stays\[0\] \[20, 10\]: an event needs 0 <= start < end"),
        (red(events={"stays": [[10.0, 20.0], [19.0, 30.0]]}),
         r"events \[10, 20\] and \[19, 30\] overlap"),
        (red(consecutive=0), r"rules\[0\]\.consecutive: Input should be greater than or equal"),
        (red(cameras=["*"]), r"rules\[0\]: Value error, a labelled rule names its videos"),
        (red(colour="red"), r"rules\[0\]\.colour: Extra inputs are not permitted"),
    ],
)  # fmt: skip
def test_a_bad_rule_says_where_and_why(
    tmp_path: Path, bundled_path: Path, rule: dict[str, object], message: str
) -> None:
    path = write(tmp_path, bundled_path, [rule])
    with pytest.raises(LabelError, match=message) as raised:
        load_labels(path)
    assert str(path) in str(raised.value)


ONE_RULE = "rules: [{id: r, question: Is it red, videos: [a]}]\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("videos: [{id: a, path: gone.mp4}]\n" + ONE_RULE, r"video a: no such video file"),
        ("videos: [{id: a, path: a.mp4}, {id: a, path: b.mp4}]\n" + ONE_RULE,
         r"video ids appear twice: a"),
        ("videos: [\n", r"is not valid YAML"),
        ("- just a list\n", r"the top level must be a mapping"),
        ("videos: []\n" + ONE_RULE, r"videos: List should have at least 1 item"),
    ],
)  # fmt: skip
def test_a_bad_file_is_a_label_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "labels.yaml"
    path.write_text(text)
    with pytest.raises(LabelError, match=message):
        load_labels(path)


def test_an_unreadable_file_is_a_label_error(tmp_path: Path) -> None:
    with pytest.raises(LabelError, match=r"cannot read .*absent.yaml"):
        load_labels(tmp_path / "absent.yaml")
