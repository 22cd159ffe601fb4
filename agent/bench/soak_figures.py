"""The soak's one JSON object (and its readable form) from what the run recorded."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from agent.bench.soak_faults import PROBE_KINDS, outage_windows, overlaps
from agent.bench.soak_load import PROBE_TIMEOUT_S
from agent.bench.soak_report import (
    archive_figures,
    growth_pct_per_hour,
    mqtt_figures,
    percentile,
    recall,
    role_growth,
    truth_events,
    webhook_figures,
)
from agent.bench.soak_roles import RoleProcess
from agent.eval.receiver import Receipt
from agent.mqtt import topics

if TYPE_CHECKING:
    from agent.bench.soak import Recorded


def figures(
    recorded: Recorded, roles: dict[str, RoleProcess], receipts: Sequence[Receipt]
) -> dict[str, Any]:
    extra = recorded.extra
    paths = _paths(recorded, receipts)
    deaths = [death for role in roles.values() for death in role.deaths]
    rss = _rss_growth(recorded)
    started = recorded.started_epoch
    outages = [(started + a, started + b) for a, b in outage_windows(recorded.faults)]
    found = recall(truth_events(extra["truth"]), extra["spans"], outages)
    probe = _healthz(recorded)
    return {
        "minutes": recorded.config.minutes,
        "run_s": round(recorded.duration_s, 1),
        "drained_s": recorded.drained_s,
        "unplanned_deaths": len(deaths),
        "deaths": [vars_of(death) for death in deaths],
        "planned_kills": sum(1 for fault in recorded.faults if fault.kind == "kill"),
        "role_starts": {name: role.starts for name, role in roles.items()},
        "part_restarts": extra["restarts"]["total"],
        "part_restarts_detail": extra["restarts"],
        "alerts_opened": len(extra["spans"]),
        "alerts_closed": len(extra["closed"]),
        "lost": sum(path["lost"] for path in paths.values() if path is not None),
        "duplicates": sum(path["duplicates"] for path in paths.values() if path is not None),
        "paths": paths,
        "recall_outside_outages": found["recall"],
        "recall_detail": found,
        "rss_growth_pct_per_hour": max((g for g in rss.values() if g is not None), default=None),
        "rss_growth_by_role": rss,
        "redis_memory_growth_pct_per_hour": growth_pct_per_hour(_after_warmup(recorded)),
        "redis_used_memory_bytes": _ends(recorded.memory.redis_used),
        **probe,
        "load": extra["load"],
        "poison": extra["poison"],
        "dead_letter_streams": extra["dead_letters"],
        "faults": [fault.to_json() for fault in recorded.faults],
        "errors": recorded.errors,
    }


def vars_of(death: object) -> dict[str, Any]:
    return {name: getattr(death, name) for name in ("role", "at_s", "exit_code", "log_tail")}


def _paths(recorded: Recorded, receipts: Sequence[Receipt]) -> dict[str, dict[str, int] | None]:
    extra = recorded.extra
    archived = extra["archived"]
    return {
        "webhooks": webhook_figures(extra["outbox"], (r.message_id for r in receipts)),
        "mqtt": mqtt_figures(extra["outbox"], extra["mqtt"], topics.EVENT_TYPES),
        "archive": None if archived is None else archive_figures(extra["closed"], archived),
    }


def _warm_s(recorded: Recorded) -> float:
    return recorded.config.minutes * 60.0 * recorded.config.warmup_share


def _rss_growth(recorded: Recorded) -> dict[str, float | None]:
    warm = _warm_s(recorded)
    return {name: role_growth(samples, warm) for name, samples in recorded.memory.rss.items()}


def _after_warmup(recorded: Recorded) -> list[tuple[float, float]]:
    warm = _warm_s(recorded)
    return [(at, float(used)) for at, used in recorded.memory.redis_used if at >= warm]


def _ends(series: list[tuple[float, int]]) -> list[int]:
    return [series[0][1], series[-1][1]] if series else []


def _healthz(recorded: Recorded) -> dict[str, Any]:
    """p99 of /healthz during the hostile bursts and over the whole run; a probe without
    an answer counts as its timeout. The API's own planned kill is left out."""
    started = recorded.started_epoch
    api_down = [
        (started + fault.at_s, started + fault.at_s + 15.0)
        for fault in recorded.faults if fault.kind == "kill" and fault.target == "api"
    ]  # fmt: skip
    bursts = [
        (started + f.at_s, started + f.end_s) for f in recorded.faults if f.kind in PROBE_KINDS
    ]
    timeout_ms = PROBE_TIMEOUT_S * 1000
    kept = [
        sample for sample in recorded.extra["probe"] if not overlaps(sample[0], sample[0], api_down)
    ]
    all_ms = [timeout_ms if ms is None or status != 200 else ms for _, ms, status in kept]
    in_bursts = [
        timeout_ms if ms is None or status != 200 else ms
        for at, ms, status in kept if overlaps(at, at + 0.001, bursts)
    ]  # fmt: skip
    return {
        "healthz_p99_ms": percentile(in_bursts, 0.99),
        "healthz_p99_ms_whole_run": percentile(all_ms, 0.99),
        "healthz_probes": len(kept),
        "healthz_failures": sum(1 for _, ms, status in kept if ms is None or status != 200),
    }


SUMMARY = (
    "unplanned_deaths", "planned_kills", "part_restarts", "alerts_opened", "lost", "duplicates",
    "recall_outside_outages", "rss_growth_pct_per_hour", "redis_memory_growth_pct_per_hour",
    "healthz_p99_ms", "healthz_failures",
)  # fmt: skip


def render(result: dict[str, Any]) -> str:
    lines = [f"soak of {result['minutes']:g} min (ran {result['run_s']} s, drained in "
             f"{result['drained_s']} s)"]  # fmt: skip
    for name in SUMMARY:
        lines.append(f"{name:>34}: {result[name]}")
    for path, counts in result["paths"].items():
        lines.append(f"{'path ' + path:>34}: {counts}")
    for death in result["deaths"]:
        lines.append(
            f"{'death':>34}: {death['role']} at {death['at_s']} s, exit {death['exit_code']}"
        )
        lines.extend(f"{'':>36}{line}" for line in death["log_tail"])
    lines.append(f"{'poison':>34}: {result['poison']}")
    lines.append(f"{'load':>34}: {result['load']}")
    lines.extend(f"{'error':>34}: {error}" for error in result["errors"])
    return "\n".join(lines)
