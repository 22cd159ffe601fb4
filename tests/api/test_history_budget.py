"""Cutting history records to the model's context: priority order, time order, the
left-out counts and sentences, and the question that cannot fit."""

from __future__ import annotations

import pytest

from agent.api.history_budget import fit_records
from agent.archive.history import HistoryRecords, RuleFact
from agent.archive.store import StoredWindow
from agent.engines.budget import PromptBudget
from agent.engines.errors import EngineContextError
from agent.engines.prompts import Prompt, history_prompt
from agent.engines.tokens import ByteBound

T0_MS = 1_767_225_600_000  # 2026-01-01 00:00:00 UTC
QUESTION = "When was the truck last at the gate?"
RULES = {"truck": "Is a truck at the gate?", "person": "Is a person at the gate?"}
ANSWER_TOKENS = 100


def window(minute: int, caption: str = "A scene at the gate.") -> StoredWindow:
    start = T0_MS + minute * 60_000
    return StoredWindow(
        f"gate:{start}", "gate", start, start + 8000, caption, None, (), (), (), None
    )


def fact(rule: str, last: StoredWindow) -> RuleFact:
    return RuleFact(rule, "gate", 2, 1, 0, T0_MS, last.end_ms, last.window_id)


def records() -> HistoryRecords:
    """Five windows oldest first; the facts' last detections are minutes 30 and 10; the
    search ranked minute 40, then 0, then 20."""
    windows = tuple(window(minute) for minute in (0, 10, 20, 30, 40))
    facts = (fact("truck", windows[3]), fact("person", windows[1]))
    priority = tuple(windows[i].window_id for i in (3, 1, 4, 0, 2))
    return HistoryRecords(windows, facts, (), False, priority)


def prompt_bytes(fitted: HistoryRecords) -> int:
    return ByteBound().count_prompt(history_prompt(fitted.text(RULES), QUESTION), video=False)


def budget_for(fitted: HistoryRecords) -> PromptBudget:
    """A context that holds ``fitted``'s prompt and a little more (the fill costs lines
    with the widest tag and left-out counts of three digits), less than one more line."""
    return PromptBudget(prompt_bytes(fitted) + 30 + ANSWER_TOKENS, ANSWER_TOKENS, ByteBound())


def test_everything_that_fits_is_kept_as_it_was() -> None:
    whole = records()
    fitted = fit_records(whole, RULES, QUESTION, PromptBudget(100_000, 100, ByteBound()))
    assert fitted == whole


def test_windows_are_taken_by_priority_and_shown_oldest_first() -> None:
    whole = records()
    three = HistoryRecords(whole.windows[1:4], whole.facts, (), False, (), 2)  # should fit
    fitted = fit_records(whole, RULES, QUESTION, budget_for(three))
    minutes = [(w.start_ms - T0_MS) // 60_000 for w in fitted.windows]
    assert minutes == [10, 30, 40]  # the last detections, then the best match; by time
    assert fitted.facts == whole.facts
    assert (fitted.windows_left_out, fitted.facts_left_out) == (2, 0)
    text = fitted.text(RULES)
    assert "(2 more windows about the question are left out to fit the model's context.)" in text
    assert "last until 2026-01-01 00:30:08 UTC [w2]." in text  # tags follow the new order
    assert "[w3] camera gate, 2026-01-01 00:40:00 UTC" in text
    assert prompt_bytes(fitted) <= budget_for(three).room(ANSWER_TOKENS)


def test_facts_come_before_any_window() -> None:
    whole = records()
    facts_only = HistoryRecords((), whole.facts, (), False, (), 5)
    fitted = fit_records(whole, RULES, QUESTION, budget_for(facts_only))
    assert fitted.facts == whole.facts
    assert fitted.windows == ()
    assert fitted.windows_left_out == 5
    assert "last until 2026-01-01 00:30:08 UTC." in fitted.text(RULES)  # no tag: not shown


def test_the_newest_facts_are_kept_when_not_all_fit() -> None:
    whole = records()
    one = HistoryRecords((), whole.facts[:1], (), False, (), 5, 1)
    fitted = fit_records(whole, RULES, QUESTION, budget_for(one))
    assert [f.rule_id for f in fitted.facts] == ["truck"]
    assert (fitted.facts_left_out, fitted.windows_left_out) == (1, 5)
    assert "- (1 more rules detected in this period are left out" in fitted.text(RULES)


def test_a_question_that_alone_exceeds_the_context_is_refused() -> None:
    question = "Was it there? " * 140  # ~2,000 characters
    budget = PromptBudget(2000, ANSWER_TOKENS, ByteBound())
    with pytest.raises(EngineContextError, match="the question with the prompt's instructions"):
        fit_records(records(), RULES, question, budget)


class LinesCostMore(ByteBound):
    """A counter whose whole prompt costs more than its lines summed: the final count
    must catch what the estimate missed."""

    def count_prompt(self, prompt: Prompt, video: bool) -> int:
        return super().count_prompt(prompt, video) + 40 * prompt.text.count("\n[w")


def test_the_whole_prompt_is_counted_again_and_trimmed_to_fit() -> None:
    whole = records()
    budget = PromptBudget(budget_for(whole).context_tokens, ANSWER_TOKENS, LinesCostMore())
    fitted = fit_records(whole, RULES, QUESTION, budget)
    tokens = budget.counter.count_prompt(history_prompt(fitted.text(RULES), QUESTION), False)
    assert tokens <= budget.room(ANSWER_TOKENS)
    assert 0 < fitted.windows_left_out < 5
