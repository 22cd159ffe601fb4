"""The history records that fit the model's context, chosen in priority order.

The prompt's instructions and the question come first: when they alone do not fit,
beside the tokens kept for the answer, the question is refused (EngineContextError).
Then facts (most recently detected first), then the windows of the facts' last
detections, then the best matches of the question, each taken while it fits; the windows
taken are shown oldest first and the records say how many were left out. Lines are
costed with the longest tag the records can give; the whole prompt (with its sentences
on what was left out) is then counted once more and trimmed from the least important
end until it fits.
"""

from __future__ import annotations

import dataclasses

from agent.archive.history import HistoryRecords, fact_line, window_line
from agent.archive.store import StoredWindow
from agent.engines.budget import PromptBudget, fill
from agent.engines.prompts import Prompt, history_prompt


def fit_records(
    records: HistoryRecords, rules: dict[str, str], question: str, budget: PromptBudget
) -> HistoryRecords:
    """``records`` cut to what fits ``budget``; raises EngineContextError when the
    question alone does not."""
    room = _room(records, rules, question, budget)
    ranked = _ranked(records)
    widest = records.tag(len(records.windows))
    costs = [budget.counter.count(f"\n{fact_line(f, rules, widest)}") for f in records.facts]
    costs += [budget.counter.count(f"\n{window_line(w, widest)}") for w in ranked]
    taken = fill(costs, room)
    while True:
        fitted = _subset(records, ranked, taken)
        tokens = budget.counter.count_prompt(_prompt(fitted, rules, question), video=False)
        if tokens <= budget.room(budget.reasoning_tokens) or not taken:
            return fitted
        taken.pop()  # the least important piece taken


def _room(
    records: HistoryRecords, rules: dict[str, str], question: str, budget: PromptBudget
) -> int:
    """Tokens left for fact and window lines once the prompt around them is counted."""
    skeleton = HistoryRecords((), (), (), records.detections_capped)
    base = budget.counter.count_prompt(_prompt(skeleton, rules, question), video=False)
    budget.check("the question with the prompt's instructions", base, budget.reasoning_tokens)
    return budget.room(budget.reasoning_tokens) - base


def _ranked(records: HistoryRecords) -> list[StoredWindow]:
    """The windows, the most important first: as ``priority`` ranks them, then any it
    does not name, newest first."""
    by_id = {window.window_id: window for window in records.windows}
    named = [by_id[window_id] for window_id in records.priority if window_id in by_id]
    named_ids = {window.window_id for window in named}
    rest = [window for window in reversed(records.windows) if window.window_id not in named_ids]
    return [*named, *rest]


def _subset(
    records: HistoryRecords, ranked: list[StoredWindow], taken: list[int]
) -> HistoryRecords:
    facts = len(records.facts)
    kept_facts = tuple(records.facts[i] for i in taken if i < facts)
    kept_ids = {ranked[i - facts].window_id for i in taken if i >= facts}
    windows = tuple(window for window in records.windows if window.window_id in kept_ids)
    return dataclasses.replace(
        records,
        windows=windows,
        facts=kept_facts,
        windows_left_out=len(ranked) - len(windows),
        facts_left_out=facts - len(kept_facts),
    )


def _prompt(records: HistoryRecords, rules: dict[str, str], question: str) -> Prompt:
    return history_prompt(records.text(rules), question)
