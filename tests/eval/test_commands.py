"""`vigil eval` and `vigil bench alerts` as commands: options, and a bad labels file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

VIGIL = str(Path(sys.executable).with_name("vigil"))


def vigil(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}  # help on one line per option
    return subprocess.run(
        [VIGIL, *args], capture_output=True, text=True, timeout=60, check=False, cwd=cwd, env=env
    )


def test_eval_says_what_is_wrong_with_the_labels_and_exits_2(tmp_path: Path) -> None:
    labels = tmp_path / "labels.yaml"
    labels.write_text("videos: [{id: lobby, path: lobby.mp4}]\nrules: []\n")
    result = vigil("eval", str(labels), "--pixel-engine", cwd=tmp_path)
    assert result.returncode == 2
    assert f"vigil: {labels}: rules: List should have at least 1 item" in result.stderr
    assert result.stdout == ""


def test_the_commands_are_listed_with_their_options(tmp_path: Path) -> None:
    result = vigil("eval", "--help", cwd=tmp_path)
    assert result.returncode == 0
    assert all(option in result.stdout for option in ("labels", "--json", "--pixel-engine"))
    result = vigil("bench", "alerts", "--help", cwd=tmp_path)
    assert result.returncode == 0
    assert all(option in result.stdout for option in ("--json", "--http"))
