"""The report's written summary: reasoning calls over its records, within the model's context.

The records are cut in blocks, one per camera and hour (a camera's counted facts in its
first block), and as many blocks as fit the model's context go to one call; a block
too long alone keeps the lines that fit and says how many were left out. One call
writes the summary when everything fits; otherwise each call writes a part, and a last
call writes the summary from the facts and the parts. Windows keep their tags across
the calls (``[w<n>]`` numbered over the whole report), so the summary cites them as
history answers do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from agent.archive.history import clock
from agent.engines import Engine
from agent.engines.budget import PromptBudget
from agent.engines.prompts import history_prompt

REPORT_QUESTION = (
    "Write the shift report for this period: for each camera, what happened and when (its "
    "alerts and the scenes out of the ordinary, with their UTC times), then what needs "
    "attention. Cite the windows you rely on by their tags, like [w2]."
)
PARTS_HEADING = "Summaries of parts of the period (each names its cameras and hours):"


@dataclass
class Block:
    """The records of one camera over one hour, as lines the model reads."""

    label: str  # "camera dock, 22:00-23:00 UTC"
    facts: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # alerts and tagged windows


@dataclass(frozen=True, slots=True)
class Written:
    text: str
    failure: str | None
    calls: int
    lines_left_out: int


async def write_summary(engine: Engine, blocks: Sequence[Block]) -> Written:
    packs, left_out = pack(blocks, engine.budget)
    answers, failures = [], []
    for labels, text in packs:
        answer = await engine.reason_over_records(text, REPORT_QUESTION)
        answers.append((labels, answer.answer or ""))
        if answer.failure:
            failures.append(answer.failure)
    if len(answers) == 1:
        return Written(answers[0][1], _failure(failures), 1, left_out)
    facts = [line for block in blocks for line in block.facts]
    text = _parts_text(facts, answers, engine.budget)
    final = await engine.reason_over_records(text, REPORT_QUESTION)
    if final.failure:
        failures.append(final.failure)
    return Written(final.answer or "", _failure(failures), len(packs) + 1, left_out)


def pack(blocks: Sequence[Block], budget: PromptBudget) -> tuple[list[tuple[str, str]], int]:
    """The calls' records: (what they cover, text) each, as many blocks a call as fit;
    and how many lines were left out (blocks too long alone)."""
    room = _room(budget)
    packs: list[tuple[list[str], list[str]]] = []  # (labels, lines)
    used, left_out = room + 1, 0
    for block in blocks:
        lines = [*block.facts, *block.lines]
        costs = [budget.counter.count(f"\n{line}") for line in lines]
        if sum(costs) > room:
            kept = _fitting(costs, room)
            left_out += len(lines) - len(kept)
            lines, costs = [lines[i] for i in kept], [costs[i] for i in kept]
        if used + sum(costs) > room:
            packs.append(([], []))
            used = 0
        packs[-1][0].append(block.label)
        packs[-1][1].extend(lines)
        used += sum(costs)
    return [("; ".join(labels), _records_text(lines)) for labels, lines in packs], left_out


def _room(budget: PromptBudget) -> int:
    """Tokens left for record lines once the prompt around them is counted, with a
    margin for the headings."""
    base = budget.counter.count_prompt(
        history_prompt(_records_text([]), REPORT_QUESTION), video=False
    )
    budget.check("the report's instructions", base, budget.reasoning_tokens)
    return budget.room(budget.reasoning_tokens) - base - 64


def _fitting(costs: list[int], room: int) -> list[int]:
    """The first lines that fit, in their order."""
    kept, used = [], 0
    for index, cost in enumerate(costs):
        if used + cost > room:
            break
        kept.append(index)
        used += cost
    return kept


def _records_text(lines: Sequence[str]) -> str:
    facts = [line for line in lines if line.startswith("- rule ")]
    alerts = [line for line in lines if line.startswith("- alert ")]
    windows = [line for line in lines if line.startswith("[w")]
    return "\n\n".join(
        [
            "\n".join(["Facts:", *(facts or ["- no rule was detected in this period."])]),
            "\n".join(["Alerts:", *(alerts or ["- no alert opened in this period."])]),
            "\n".join(["Windows:", *(windows or ["- no scene out of the ordinary."])]),
        ]
    )


def _parts_text(facts: list[str], answers: list[tuple[str, str]], budget: PromptBudget) -> str:
    """The last call's records: every fact, then the parts' summaries, cut to fit."""
    room = _room(budget)
    lines = [
        *facts,
        *(f"- Part {n} ({labels}): {text}" for n, (labels, text) in enumerate(answers, 1)),
    ]
    kept = _fitting([budget.counter.count(f"\n{line}") for line in lines], room)
    facts_kept = [lines[i] for i in kept if i < len(facts)]
    parts_kept = [lines[i] for i in kept if i >= len(facts)]
    return "\n\n".join(
        ["\n".join(["Facts:", *facts_kept]), "\n".join([PARTS_HEADING, *parts_kept])]
    )


def _failure(failures: list[str]) -> str | None:
    return "; ".join(dict.fromkeys(failures)) or None


def hour_label(camera_id: str, hour_ms: int) -> str:
    start, end = clock(hour_ms)[11:16], clock(hour_ms + 3_600_000)[11:16]
    return f"camera {camera_id}, {start}-{end} UTC"
