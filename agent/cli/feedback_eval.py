"""``vigil eval --from-feedback --rule R``: the rule judged on the footage operators gave
feedback on (``--at-once`` clips at a time), and with ``--rule-file`` a changed rule
beside it on the same footage; ``--export DIR`` writes the set for use elsewhere instead
of running it."""

from __future__ import annotations

import asyncio
import json
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import redis.exceptions
import typer
import yaml
from pydantic import ValidationError

from agent.cli.report import parse_time
from agent.eval.batches import AT_ONCE, run_in_batches
from agent.eval.feedback_set import FeedbackSetError, SetRequest, after_rule, build_set
from agent.eval.labels import LabelError, load_labels
from agent.eval.pixel_engine import PixelEngine
from agent.eval.report import Report, before_after, render
from agent.eval.run import EvalError
from agent.pipeline.cameras_store import CameraStore
from agent.pipeline.rules import Rule
from agent.pipeline.rules_store import RuleStore
from agent.runtime.config import VigilSettings
from agent.runtime.startup import connect_async, keys_for, redis_url_for
from streams.zones import CameraZones


def feedback_eval_command(
    settings: VigilSettings,
    rule_id: str,
    since: str | None,
    rule_file: Path | None,
    export: Path | None,
    as_json: bool,
    pixel: bool,
    at_once: int = AT_ONCE,
) -> None:
    start = parse_time(since) if since else None
    try:
        rule, zones = asyncio.run(_rule_and_zones(settings, rule_id))
        rules = [rule] + ([after_rule(_changed_rule(rule_file, rule))] if rule_file else [])
        with ExitStack() as stack:
            folder = export or Path(stack.enter_context(tempfile.TemporaryDirectory()))
            request = SetRequest(rule_id, start, rules, zones)
            labels_path = asyncio.run(
                build_set(settings.archive, settings.data_dir, folder, request)
            )
            if export is not None:
                typer.echo(f"vigil: the feedback set is in {labels_path}")
                return
            labels = load_labels(labels_path)
            report = run_in_batches(labels, settings, PixelEngine() if pixel else None, at_once)
    except (FeedbackSetError, LabelError) as error:
        typer.echo(f"vigil: {error}", err=True)
        raise typer.Exit(2) from None
    except EvalError as error:
        typer.echo(f"vigil: eval failed: {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(_rendered(report, rules, as_json))


def _rendered(report: Report, rules: list[Rule], as_json: bool) -> str:
    if len(rules) == 1:
        return render(report, as_json)
    document = report.to_json()
    compared = before_after(document["rules"], rules[0].id, rules[1].id)
    if as_json:
        return json.dumps({**document, "before_after": compared}, indent=2)
    lines = [
        f"{name}: {'—' if value is None else f'{value:.2f}'}" for name, value in compared.items()
    ]
    return "\n".join([render(report, False), "", *lines])


async def _rule_and_zones(
    settings: VigilSettings, rule_id: str
) -> tuple[Rule, dict[str, CameraZones]]:
    """The rule and the cameras' zones as the running Vigil has them (the stores in Redis,
    which the API edits), else as vigil.yaml has them."""
    rule = next((rule for rule in settings.rules if rule.id == rule_id), None)
    zones = {c.id: CameraZones(zones=c.zones, masks=c.masks) for c in settings.cameras}
    try:
        with redis_url_for(settings, start_embedded=False) as url:
            client = connect_async(url, settings.redis_cluster)
            try:
                keys = keys_for(settings)
                rule = await RuleStore(client, keys).get(rule_id) or rule
                for camera in await CameraStore(client, keys).all():
                    zones[camera.id] = CameraZones(zones=camera.zones, masks=camera.masks)
            finally:
                await client.aclose()
    except (redis.exceptions.ConnectionError, OSError):
        pass  # no Vigil running: vigil.yaml says what the rule is
    if rule is None:
        raise FeedbackSetError(f"no rule {rule_id} in Redis or in vigil.yaml")
    return rule, zones


def _changed_rule(path: Path, now: Rule) -> Rule:
    """The rule file: a rule as vigil.yaml writes one; what it leaves out is the rule's now."""
    try:
        document: Any = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise FeedbackSetError(f"cannot read {path}: {error}") from None
    if not isinstance(document, dict):
        raise FeedbackSetError(f"{path}: a rule file is a mapping of the rule's settings")
    try:
        return Rule.model_validate({**now.model_dump(), **document})
    except ValidationError as error:
        raise FeedbackSetError(f"{path}: {error}") from None
