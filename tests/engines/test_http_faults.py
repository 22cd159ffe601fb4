"""The HTTP engine against real local servers that fail on cue: each fault, its error."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator, Callable

import pytest

from agent.engines.clips import JpegClip, jpeg_clip
from agent.engines.errors import (
    EngineOverloadedError,
    EngineRequestError,
    EngineResponseError,
    EngineTimeoutError,
    EngineUnavailableError,
)
from agent.engines.openai_http import OpenAIHttpEngine
from agent.engines.prompts import CAPTION_KEY, Question
from agent.engines.settings import EngineSettings
from tests.engines.fake_openai import FakeOpenAI, Reply, chat_completion
from tests.engines.frames import MakeRecords, free_port

pytestmark = pytest.mark.asyncio(loop_scope="session")

QUESTIONS = [Question("person", "Is a person there?")]
VERDICT = json.dumps(
    {"person": {"detected": True, "confidence": 0.9, "evidence_start_s": 0.5,
                "evidence_end_s": 1.0, "description": "someone"}}
)  # fmt: skip
OK = chat_completion(VERDICT)
API_KEY = "sk-test-secret-123"

MakeEngine = Callable[..., OpenAIHttpEngine]


@pytest.fixture
async def make_engine() -> AsyncIterator[MakeEngine]:
    engines: list[OpenAIHttpEngine] = []

    def make(*base_urls: str, **overrides: object) -> OpenAIHttpEngine:
        values: dict[str, object] = {
            "kind": "openai", "base_urls": list(base_urls), "served_model_name": "fake",
            "request_timeout_s": 1.0, "connect_timeout_s": 0.5, "max_retries": 2,
            "backoff_initial_s": 0.05, "backoff_cap_s": 0.2, "api_key": API_KEY,
        }  # fmt: skip
        engine = OpenAIHttpEngine(EngineSettings.model_validate({**values, **overrides}))
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        await engine.close()


@pytest.fixture
def clip(make_records: MakeRecords) -> JpegClip:
    return jpeg_clip(make_records(count=4), fps=4.0)


def dead_url() -> str:
    return f"http://127.0.0.1:{free_port()}/v1"


async def test_request_carries_video_first_true_fps_schema_and_key(
    make_engine: MakeEngine, clip: JpegClip
) -> None:
    with FakeOpenAI(OK) as server:
        answer = await make_engine(server.base_url).verdicts(clip, QUESTIONS)
        assert answer.ok
        _, headers, raw = server.requests[0]
    body = json.loads(raw)
    video, text = body["messages"][1]["content"]
    prefix = "data:video/jpeg;base64,"
    assert video["type"] == "video_url"
    assert video["video_url"]["url"].startswith(prefix)
    frames = video["video_url"]["url"][len(prefix) :].split(",")
    assert [base64.b64decode(frame) for frame in frames] == list(clip.jpegs)
    assert text["type"] == "text"
    assert "4 frames per second" in text["text"]
    assert body["media_io_kwargs"] == {"video": {"fps": 4.0, "num_frames": 4}}
    assert body["mm_processor_kwargs"] == {"fps": 4.0}
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"]["required"] == [CAPTION_KEY, "person"]
    assert headers["authorization"] == f"Bearer {API_KEY}"
    assert body["model"] == "fake"


async def test_dead_server_is_unavailable_after_retries(
    make_engine: MakeEngine, clip: JpegClip
) -> None:
    engine = make_engine(dead_url())
    with pytest.raises(EngineUnavailableError, match="cannot reach") as caught:
        await engine.verdicts(clip, QUESTIONS)
    assert API_KEY not in str(caught.value)
    assert engine.endpoints[0].failures == 3  # the first try and two retries


async def test_429_is_retried_after_retry_after_then_succeeds(
    make_engine: MakeEngine, clip: JpegClip
) -> None:
    busy = Reply(429, b'{"error": {"message": "busy"}}', {"Retry-After": "0.15"})
    with FakeOpenAI(OK, script=[busy]) as server:
        started = time.monotonic()
        answer = await make_engine(server.base_url).verdicts(clip, QUESTIONS)
        assert answer.ok
        assert len(server.completions) == 2
    assert time.monotonic() - started >= 0.15


async def test_429_forever_is_overloaded(make_engine: MakeEngine, clip: JpegClip) -> None:
    with FakeOpenAI(Reply(429, b'{"error": {"message": "queue full"}}')) as server:
        with pytest.raises(EngineOverloadedError, match="429: queue full"):
            await make_engine(server.base_url).verdicts(clip, QUESTIONS)
        assert len(server.completions) == 3


async def test_5xx_is_retried_with_backoff(make_engine: MakeEngine, clip: JpegClip) -> None:
    with FakeOpenAI(OK, script=[Reply(503), Reply(500)]) as server:
        answer = await make_engine(server.base_url).verdicts(clip, QUESTIONS)
        assert answer.ok
        assert len(server.completions) == 3


async def test_hung_server_times_out_without_a_second_wait(
    make_engine: MakeEngine, clip: JpegClip
) -> None:
    with FakeOpenAI(Reply(200, b"{}", delay_s=3.0)) as server:
        started = time.monotonic()
        with pytest.raises(EngineTimeoutError, match="within the request timeout"):
            await make_engine(server.base_url, request_timeout_s=0.5).verdicts(clip, QUESTIONS)
        assert time.monotonic() - started < 1.5
        assert len(server.completions) == 1


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (Reply(200, b"{not json"), "not JSON"),
        (Reply(200, b'{"choices": []}'), "not a chat completion"),
        (Reply(200, b"[1, 2]"), "not an object"),
    ],
)
async def test_malformed_response_is_a_response_error_not_retried(
    make_engine: MakeEngine, clip: JpegClip, reply: Reply, message: str
) -> None:
    with FakeOpenAI(reply) as server:
        with pytest.raises(EngineResponseError, match=message):
            await make_engine(server.base_url).verdicts(clip, QUESTIONS)
        assert len(server.completions) == 1


async def test_client_error_is_a_request_error_with_the_server_message(
    make_engine: MakeEngine, clip: JpegClip
) -> None:
    refused = Reply(400, b'{"error": {"message": "media_io_kwargs not allowed"}}')
    with FakeOpenAI(refused) as server:
        with pytest.raises(EngineRequestError, match="400: media_io_kwargs not allowed"):
            await make_engine(server.base_url).verdicts(clip, QUESTIONS)
        assert len(server.completions) == 1


async def test_model_output_that_is_not_json_is_a_recorded_failure(
    make_engine: MakeEngine, clip: JpegClip
) -> None:
    with FakeOpenAI(chat_completion("I think there is a person")) as server:
        answer = await make_engine(server.base_url).verdicts(clip, QUESTIONS)
    assert not answer.ok
    assert answer.completion.text == "I think there is a person"


async def test_fails_over_from_dead_and_failing_urls_to_the_healthy_one(
    make_engine: MakeEngine, clip: JpegClip
) -> None:
    with FakeOpenAI(Reply(502)) as failing, FakeOpenAI(OK) as healthy:
        engine = make_engine(dead_url(), failing.base_url, healthy.base_url, max_retries=3)
        answers = [await engine.verdicts(clip, QUESTIONS) for _ in range(4)]
        assert all(answer.ok for answer in answers)
        assert len(healthy.completions) == 4
        assert len(failing.completions) <= 1  # marked unhealthy after its first 502
    dead, _bad, good = engine.endpoints
    assert dead.failures >= 1
    assert good.failures == 0


async def test_timeout_fails_over_to_another_url(make_engine: MakeEngine, clip: JpegClip) -> None:
    with FakeOpenAI(Reply(200, b"{}", delay_s=3.0)) as hung, FakeOpenAI(OK) as healthy:
        # A generous connect timeout: the answer's, not the connection's, must time out
        # (a loaded machine once took over 0.5 s to connect on loopback)
        engine = make_engine(
            hung.base_url, healthy.base_url, request_timeout_s=0.5, connect_timeout_s=5.0
        )
        engine.endpoints[1].outstanding = 5  # so the hung one is picked first
        answer = await engine.verdicts(clip, QUESTIONS)
        assert answer.ok
        assert len(hung.completions) == 1
        assert len(healthy.completions) == 1


async def test_health_checks_mark_dead_urls_and_revive_live_ones(make_engine: MakeEngine) -> None:
    with FakeOpenAI(OK) as healthy:
        dead = dead_url()
        engine = make_engine(dead, healthy.base_url)
        engine._pool.mark_failed(engine.endpoints[1])
        assert await engine.check_health() == {dead: False, healthy.base_url: True}
        assert engine.endpoints[1].failures == 0
        assert engine._pool.pick() is engine.endpoints[1]
