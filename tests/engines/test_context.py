"""The engines' context: reported by the model or the servers, prompts measured against
it, and the reported failure (a history prompt over the context) answered, not a 503."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from agent.api.history_budget import fit_records
from agent.archive.history import HistoryRecords, RuleFact
from agent.archive.store import StoredWindow
from agent.engines.errors import EngineContextError
from agent.engines.local import LocalEngine
from agent.engines.openai_http import OpenAIHttpEngine
from agent.engines.prompts import history_prompt
from agent.engines.settings import EngineSettings
from agent.engines.tokens import ByteBound, TokenizerFile
from tests.engines.fake_openai import FakeOpenAI, Reply
from tests.servers.vllm import SERVED_NAME

SESSION_LOOP = pytest.mark.asyncio(loop_scope="session")

T0_MS = 1_767_225_600_000
CAPTION = (
    "A red truck stands in front of the gate while a person in a yellow vest walks past "
    "it on the left, carrying a box; two bicycles lean against the fence on the right."
)
QUESTION = "When did a truck last block the gate, and how often?"
OVER_CONTEXT = (
    "This model's maximum context length is 2048 tokens. However, your prompt contains at "
    "least 2049 input tokens."
)


def http_settings(base_url: str, **overrides: object) -> EngineSettings:
    values: dict[str, object] = {
        "kind": "openai", "base_urls": [base_url], "served_model_name": SERVED_NAME,
        "max_model_len": 8192, "reasoning_max_tokens": 96, "request_timeout_s": 120,
        "max_retries": 2, "backoff_initial_s": 0.05,
    }  # fmt: skip
    return EngineSettings.model_validate({**values, **overrides})


def full_history() -> tuple[HistoryRecords, dict[str, str]]:
    """What the report hit: 44 windows' captions, 20 facts quoting 500-character rules."""
    windows = tuple(
        StoredWindow(
            f"gate:{T0_MS + i * 60_000}", "gate", T0_MS + i * 60_000, T0_MS + i * 60_000 + 8000,
            CAPTION, None, (), (f"r{i % 20}",), (f"r{i % 20}",), None,
        )
        for i in range(44)
    )  # fmt: skip
    facts = tuple(
        RuleFact(f"r{i}", "gate", 2, 1, 0, T0_MS, windows[24 + i].end_ms, windows[24 + i].window_id)
        for i in range(20)
    )
    rules = {f"r{i}": f"Is a vehicle of kind {i} blocking the gate? " * 11 for i in range(20)}
    priority = tuple(w.window_id for w in (*windows[24:], *windows[:24]))
    return HistoryRecords(windows, facts, (), False, priority), rules


@pytest_asyncio.fixture(loop_scope="session")
async def fake() -> AsyncIterator[FakeOpenAI]:
    server = FakeOpenAI(Reply(400, json.dumps({"error": {"message": OVER_CONTEXT}}).encode()))
    server.start()
    yield server
    server.stop()


@SESSION_LOOP
async def test_the_http_engine_takes_the_context_the_server_reports(fake: FakeOpenAI) -> None:
    engine = OpenAIHttpEngine(http_settings(fake.base_url, max_model_len=4096))
    try:
        assert engine.budget.context_tokens == 4096  # nothing reported yet: the setting
        fake.models = [
            {"id": "other", "max_model_len": 1024},
            {"id": SERVED_NAME, "max_model_len": 3072},
        ]
        await engine.check_health()
        assert engine.budget.context_tokens == 3072
        assert not engine.budget.counter.exact  # no tokenizer configured: the byte bound
    finally:
        await engine.close()


@SESSION_LOOP
async def test_a_refusal_over_the_context_is_typed_and_not_retried(fake: FakeOpenAI) -> None:
    engine = OpenAIHttpEngine(http_settings(fake.base_url))
    try:
        sent = len(fake.completions)
        body = engine.request_body(None, history_prompt("Facts:", QUESTION))
        with pytest.raises(EngineContextError, match="maximum context length is 2048"):
            await engine.complete(body)
        assert len(fake.completions) == sent + 1
        assert engine.budget.context_tokens == 2048  # learnt from the refusal
    finally:
        await engine.close()


@pytest.mark.engine
@SESSION_LOOP
async def test_the_in_process_engine_reports_the_models_context_and_counts_exactly(
    local_engine: LocalEngine,
) -> None:
    budget = local_engine.budget
    assert (budget.context_tokens, budget.reasoning_tokens) == (8192, 96)
    records, rules = full_history()
    fitted = fit_records(records, rules, QUESTION, budget)
    prompt = history_prompt(fitted.text(rules), QUESTION)
    answer = await local_engine.reason_over_records(fitted.text(rules), QUESTION)
    assert answer.completion.usage.prompt_tokens == budget.counter.count_prompt(prompt, False)


@pytest.mark.engine
@SESSION_LOOP
async def test_a_history_prompt_over_the_context_is_cut_and_answered(
    local_engine: LocalEngine, vllm_server: str, model_dir_tokenizer: TokenizerFile
) -> None:
    """The reported failure: 44 windows and 20 facts are ~20k tokens for the tiny model's
    8,192. Uncut, both engines refuse it as a context error; cut, both answer."""
    records, rules = full_history()
    whole = history_prompt(records.text(rules), QUESTION)
    assert model_dir_tokenizer.count_prompt(whole, False) > 8192
    http = OpenAIHttpEngine(http_settings(vllm_server, max_model_len=65536))
    try:
        await http.check_health()
        assert http.budget.context_tokens == 8192  # from /v1/models
        with pytest.raises(EngineContextError, match="maximum context length"):
            await http.complete(http.request_body(None, whole))  # the server's own 400
        with pytest.raises(EngineContextError, match="the model's context of 8192 tokens"):
            await local_engine.reason_over_records(records.text(rules), QUESTION)
        for engine in (local_engine, http):
            fitted = fit_records(records, rules, QUESTION, engine.budget)
            assert fitted.windows_left_out > 0
            answer = await engine.reason_over_records(fitted.text(rules), QUESTION)
            assert 0 < answer.completion.usage.prompt_tokens <= 8192 - 96
    finally:
        await http.close()


def test_byte_bound_history_prompts_stay_under_the_tokenizers_count(
    model_dir_tokenizer: TokenizerFile,
) -> None:
    records, rules = full_history()
    prompt = history_prompt(records.text(rules), QUESTION)
    exact = model_dir_tokenizer.count_prompt(prompt, False)
    assert exact <= ByteBound().count_prompt(prompt, False)
