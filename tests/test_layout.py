"""The repository's shape: imports point one way between the parts, and README's Redis
section lists every key that ``streams/bus/keys.py`` defines."""

from __future__ import annotations

import inspect
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from streams.bus.keys import Keys

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PACKAGES = (
    "agent/cli", "agent/bench", "agent/eval", "agent/runtime", "agent/api", "agent/reports",
    "agent/webhooks",
    "agent/dashboard", "agent/mqtt", "agent/archive", "agent/pipeline", "agent/engines",
    "streams", "streams/ingest", "streams/buffer", "streams/webrtc", "streams/decode",
    "streams/picture", "streams/bus",
)  # fmt: skip
STREAMS_MODULES = ("streams/config.py", "streams/urls.py", "streams/zones.py")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=root, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_the_code_keeps_the_import_contracts() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def skeleton(root: Path) -> None:
    """An empty tree of Vigil's packages, to plant one wrong-way import in."""
    for package in ("agent", *PACKAGES):
        folder = root / package
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "__init__.py").touch()
    for module in STREAMS_MODULES:
        (root / module).touch()


@pytest.mark.parametrize(
    ("importer", "imported"),
    [
        ("streams/decode/sampling.py", "agent.pipeline"),
        ("streams/picture/ycbcr.py", "streams.ingest"),
        ("streams/picture/ycbcr.py", "streams.bus"),
        ("streams/picture/ycbcr.py", "streams.decode"),
        ("streams/decode/plan.py", "streams.ingest"),
        ("streams/decode/plan.py", "streams.bus"),
        ("streams/decode/plan.py", "streams.buffer"),
        ("streams/webrtc/whep.py", "streams.buffer"),
        ("streams/buffer/frames.py", "streams.ingest"),
        ("streams/bus/keys.py", "streams.buffer"),
        ("streams/config.py", "streams.decode"),
        ("streams/urls.py", "streams.config"),
        ("streams/zones.py", "streams.config"),
        ("streams/zones.py", "streams.picture"),
        ("agent/engines/local.py", "agent.pipeline"),
        ("agent/engines/local.py", "agent.api"),
        ("agent/engines/local.py", "agent.webhooks"),
        ("agent/pipeline/worker.py", "agent.api"),
        ("agent/pipeline/worker.py", "agent.runtime"),
        ("agent/webhooks/fanout.py", "agent.dashboard"),
        ("agent/mqtt/publisher.py", "agent.api"),
        ("agent/mqtt/publisher.py", "agent.runtime"),
        ("agent/mqtt/publisher.py", "agent.webhooks"),
        ("agent/runtime/service.py", "agent.bench"),
        ("agent/bench/ingest.py", "agent.cli"),
        ("agent/eval/run.py", "agent.bench"),
        ("agent/runtime/service.py", "agent.eval"),
    ],
)
def test_a_wrong_way_import_breaks_a_contract(tmp_path: Path, importer: str, imported: str) -> None:
    skeleton(tmp_path)
    (tmp_path / importer).write_text(f"import {imported}\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0, result.stdout
    assert "BROKEN" in result.stdout


def test_a_right_way_import_keeps_the_contracts(tmp_path: Path) -> None:
    skeleton(tmp_path)
    (tmp_path / "agent/api/app.py").write_text("import agent.pipeline\nimport streams\n")
    (tmp_path / "agent/pipeline/worker.py").write_text("import agent.engines\n")
    right_way = {
        "streams/ingest/camera.py": "import streams.buffer\nimport streams.webrtc\n",
        "streams/buffer/frames.py": "import streams.bus\nimport streams.config\n",
        "streams/webrtc/whep.py": "import streams.decode\nimport streams.urls\n",
        "streams/picture/motion.py": "import streams.zones\n",
        "streams/config.py": "import streams.zones\nimport streams.urls\n",
    }
    for module, imports in right_way.items():
        (tmp_path / module).write_text(imports)
    result = lint_imports(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def every_key_template() -> dict[str, str]:
    """Each key of Keys with its arguments as README writes them (``<camera>``, …)."""
    placeholders = {
        "camera_id": "<camera>", "job_id": "<job>", "rule_id": "<rule>",
        "alert_id": "<alert>", "subscription_id": "<subscription>",
    }  # fmt: skip
    keys = Keys()
    templates: dict[str, str] = {}
    for name, member in inspect.getmembers(Keys):
        if name.startswith("_"):
            continue
        if isinstance(member, property):
            templates[name] = getattr(keys, name)
        elif inspect.isfunction(member):
            wanted = list(inspect.signature(member).parameters)[1:]
            templates[name] = member(keys, *(placeholders[arg] for arg in wanted))
    return templates


def test_readme_lists_every_redis_key() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Redis layout") :]
    missing = {name: key for name, key in every_key_template().items() if f"`{key}`" not in section}
    assert not missing, f"README's Redis layout lacks {missing}"


def test_lint_imports_is_installed() -> None:
    assert shutil.which(str(LINT_IMPORTS)), "import-linter is missing from the dev extras"
