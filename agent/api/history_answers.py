"""/v1/ask over history: a question about a period the buffer no longer holds (or about
every camera), answered in one reasoning call over the archive's records, citing the
windows it used; "no evidence" without a call when the archive holds nothing on it.

The records are cut to the model's context (``agent.api.history_budget``), and the whole
question, archive reads included, has ``api.history_timeout_s``."""

from __future__ import annotations

import asyncio
from typing import Literal

from fastapi import HTTPException
from pydantic import BaseModel, Field

from agent.api.archived_windows import (
    ArchivedWindow,
    epoch_ms,
    oldest_frames_ms,
    open_archive,
    window_out,
)
from agent.api.history_budget import fit_records
from agent.api.state import ApiState
from agent.archive.alert_pages import period_alerts
from agent.archive.history import AlertFact, HistoryRecords, RuleFact, clock, gather_records
from agent.archive.store import WindowFilter
from agent.engines import Engine
from agent.engines.answers import ReasoningAnswer
from agent.pipeline.alert_records import AlertFilter
from agent.pipeline.rules_store import RuleStore

ALERTS_MAX = 1000  # alerts counted per question at most


class HistoryWindow(ArchivedWindow):
    tag: str = Field(description="How the records name the window: the answer cites [w3].")
    cited: bool


class HistoryFact(BaseModel):
    """One rule on one camera over the period, counted from the archive's records."""

    rule: str
    camera: str
    windows: int = Field(description="Windows where the rule was detected.")
    occurrences: int = Field(description="Separate times: detections 90 s or more apart.")
    alerts: int = Field(description="Alerts of the rule that opened in the period.")
    first: float = Field(description="Start of the first detection (epoch s).")
    last: float = Field(
        description="End of the last detection, or of the still windows after it (epoch s)."
    )
    last_window: str


class HistoryAnswer(BaseModel):
    mode: Literal["history"] = "history"
    answer: str | None
    reasoning: str | None
    failure: str | None = Field(description="Set when the answer was not in the expected form.")
    no_evidence: bool = Field(description="The archive holds nothing on it: no call was made.")
    camera: str | None
    since: float | None = Field(description="The period asked about (epoch s).")
    until: float
    cited: list[str] = Field(description="Ids of the windows the answer cites, in its order.")
    windows: list[HistoryWindow] = Field(description="The windows the model read, oldest first.")
    facts: list[HistoryFact]
    windows_left_out: int = Field(
        description="Windows about the question left out to fit the model's context."
    )
    facts_left_out: int = Field(description="Facts left out to fit the model's context.")
    counts_are_lower_bounds: bool
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float


async def answer_from_history(
    state: ApiState,
    engine: Engine,
    question: str,
    camera: str | None,
    since: float | None,
    until: float,
) -> HistoryAnswer:
    """Raises HTTPException 503 when the API has no archive, 504 past
    ``history_timeout_s``; EngineError (EngineContextError when the question alone does
    not fit the context) and TimeoutError from the call go to the caller."""
    limit_s = state.api.history_timeout_s
    try:
        async with asyncio.timeout(limit_s) as deadline:
            return await _from_history(state, engine, question, camera, since, until)
    except TimeoutError:
        if not deadline.expired():
            raise
        raise HTTPException(
            504,
            f"the history question took longer than {limit_s:g} s (api.history_timeout_s: "
            "archive reads and the model's answer)",
        ) from None


async def _from_history(
    state: ApiState,
    engine: Engine,
    question: str,
    camera: str | None,
    since: float | None,
    until: float,
) -> HistoryAnswer:
    store, embedder = await open_archive(state)
    where = WindowFilter(camera, None, epoch_ms(since), epoch_ms(until))
    alerts = await _period_alerts(state, camera, since, until)
    records = await gather_records(store, embedder, question, where, alerts)
    if records.empty:
        return _no_evidence(camera, since, until)
    rules = {rule.id: rule.question for rule in await RuleStore(state.client, state.keys).all()}
    records = fit_records(records, rules, question, engine.budget)
    answer = await asyncio.wait_for(
        engine.reason_over_records(records.text(rules), question), state.api.ask_timeout_s
    )
    return await _answer(state, records, answer, camera, since, until)


async def _answer(
    state: ApiState,
    records: HistoryRecords,
    answer: ReasoningAnswer,
    camera: str | None,
    since: float | None,
    until: float,
) -> HistoryAnswer:
    cited = [window.window_id for window in records.cited(answer.answer, answer.reasoning)]
    buffered = await oldest_frames_ms(state, {window.camera_id for window in records.windows})
    windows = [
        HistoryWindow(
            **window_out(window, buffered).model_dump(),
            tag=records.tag(index),
            cited=window.window_id in cited,
        )
        for index, window in enumerate(records.windows)
    ]
    usage = answer.completion.usage
    return HistoryAnswer(
        answer=answer.answer, reasoning=answer.reasoning, failure=answer.failure,
        no_evidence=False, camera=camera, since=since, until=until, cited=cited,
        windows=windows, facts=[_fact_out(fact) for fact in records.facts],
        windows_left_out=records.windows_left_out, facts_left_out=records.facts_left_out,
        counts_are_lower_bounds=records.detections_capped,
        prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens,
        latency_ms=answer.completion.latency_ms,
    )  # fmt: skip


def _no_evidence(camera: str | None, since: float | None, until: float) -> HistoryAnswer:
    where = f"camera {camera}" if camera else "any camera"
    start = f"between {clock(round(since * 1000))} and" if since is not None else "before"
    text = (
        f"No evidence in that period: the archive holds nothing from {where} "
        f"{start} {clock(round(until * 1000))} that bears on the question."
    )
    return HistoryAnswer(
        answer=text, reasoning=None, failure=None, no_evidence=True, camera=camera,
        since=since, until=until, cited=[], windows=[], facts=[], windows_left_out=0,
        facts_left_out=0, counts_are_lower_bounds=False, prompt_tokens=0,
        completion_tokens=0, latency_ms=0.0,
    )  # fmt: skip


async def _period_alerts(
    state: ApiState, camera: str | None, since: float | None, until: float
) -> list[AlertFact]:
    """The alerts that opened in the period, recent and archived, newest first, at most
    ALERTS_MAX."""
    wanted = AlertFilter(camera=camera, since=since, until=until)
    archive = None if state.archive is None else await state.archive.alerts()
    alerts = await period_alerts(state.client, state.keys, archive, wanted, ALERTS_MAX)
    return [AlertFact(a.id, a.camera, a.rule, a.opened_at) for a in alerts]


def _fact_out(fact: RuleFact) -> HistoryFact:
    return HistoryFact(
        rule=fact.rule_id, camera=fact.camera_id, windows=fact.windows,
        occurrences=fact.occurrences, alerts=fact.alerts, first=fact.first_ms / 1000,
        last=fact.last_ms / 1000, last_window=fact.last_window_id,
    )  # fmt: skip
