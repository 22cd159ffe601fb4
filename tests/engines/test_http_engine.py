"""The HTTP engine against a real vLLM OpenAI-compatible server on the tiny model."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from agent.engines.local import LocalEngine
from agent.engines.openai_http import OpenAIHttpEngine
from agent.engines.prompts import Question
from agent.engines.settings import EngineSettings
from tests.engines.frames import MakeRecords, free_port
from tests.servers.vllm import SERVED_NAME

pytestmark = [pytest.mark.engine, pytest.mark.asyncio(loop_scope="session")]

QUESTIONS = [
    Question("person", "Is a person on the loading dock?"),
    Question("blocked", "Is the fire lane blocked?"),
]
RECORDS = """Facts:
- rule truck on camera gate: detected 1 separate times (2 windows, 1 alerts), first at \
2026-01-01 00:05:00 UTC, last until 2026-01-01 00:05:16 UTC [w1].

Windows:
[w1] camera gate, 2026-01-01 00:05:00 UTC to 2026-01-01 00:05:08 UTC: A red truck \
stands in front of the gate. (rules detected: truck)"""


def http_settings(*base_urls: str) -> EngineSettings:
    return EngineSettings(
        kind="openai", model=SERVED_NAME, base_urls=list(base_urls), request_timeout_s=120,
        reasoning_max_tokens=96, max_retries=2, backoff_initial_s=0.05,
    )  # fmt: skip


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def http_engine(vllm_server: str) -> AsyncIterator[OpenAIHttpEngine]:
    engine = OpenAIHttpEngine(http_settings(vllm_server))
    yield engine
    await engine.close()


async def test_same_clip_costs_the_same_prompt_tokens_as_in_process(
    http_engine: OpenAIHttpEngine, local_engine: LocalEngine, make_records: MakeRecords
) -> None:
    """JPEG data URL + server-side fps give the 2,304 video tokens the frames array gives."""
    records = make_records(count=32, picture_height=224, box_offset=300)
    over_http = await http_engine.verdicts(http_engine.clip(records, 4.0), QUESTIONS)
    in_process = await local_engine.verdicts(local_engine.clip(records, 4.0), QUESTIONS)
    assert in_process.completion.usage.video_tokens == 2304
    assert over_http.completion.usage.prompt_tokens == in_process.completion.usage.prompt_tokens
    assert over_http.ok, (over_http.failure, over_http.completion.text)


async def test_a_question_over_records_costs_the_same_prompt_tokens_as_in_process(
    http_engine: OpenAIHttpEngine, local_engine: LocalEngine
) -> None:
    """Text only: no video placeholder, the same chat template on both paths."""
    over_http = await http_engine.reason_over_records(RECORDS, "When was a truck last there?")
    in_process = await local_engine.reason_over_records(RECORDS, "When was a truck last there?")
    assert in_process.completion.usage.video_tokens == 0
    assert over_http.completion.usage.prompt_tokens == in_process.completion.usage.prompt_tokens
    assert in_process.completion.usage.prompt_tokens > len(RECORDS.split())
    for answer in (over_http, in_process):
        assert answer.completion.text
        assert answer.ok == (answer.failure is None)


async def test_concurrent_verdicts_over_http_all_parse(
    http_engine: OpenAIHttpEngine, make_records: MakeRecords
) -> None:
    clips = [http_engine.clip(make_records(count=16, box_offset=n * 41), 4.0) for n in range(6)]
    answers = await asyncio.gather(*(http_engine.verdicts(clip, QUESTIONS) for clip in clips))
    for answer in answers:
        assert answer.ok, (answer.failure, answer.completion.text)
        assert [verdict.question_id for verdict in answer.verdicts] == ["person", "blocked"]
        assert answer.completion.finish_reason == "stop"


async def test_reasoning_over_http_is_split_or_recorded_unparsed(
    http_engine: OpenAIHttpEngine, make_records: MakeRecords
) -> None:
    answer = await http_engine.reason(http_engine.clip(make_records(count=8), 4.0), "Why?")
    assert answer.completion.text
    assert answer.completion.usage.completion_tokens <= 96
    assert answer.ok == (answer.answer is not None)
    assert answer.ok == (answer.failure is None)


async def test_fails_over_from_a_dead_url_to_the_real_server(
    vllm_server: str, make_records: MakeRecords
) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    engine = OpenAIHttpEngine(http_settings(dead, vllm_server))
    try:
        assert await engine.check_health() == {dead: False, vllm_server: True}
        clip = engine.clip(make_records(count=8), 4.0)
        answers = await asyncio.gather(*(engine.verdicts(clip, QUESTIONS[:1]) for _ in range(3)))
        assert all(answer.ok for answer in answers)
    finally:
        await engine.close()
