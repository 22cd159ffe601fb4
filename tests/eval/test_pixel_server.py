"""The pixel model server: the real HTTP engine gets the decisions of the in-process engine."""

from __future__ import annotations

import json

import httpx

from agent.engines.answers import Verdict
from agent.engines.clips import jpeg_clip
from agent.engines.openai_http import OpenAIHttpEngine
from agent.engines.settings import EngineSettings
from agent.eval.pixel_engine import PixelEngine
from agent.eval.pixel_server import MODEL, PixelServer
from streams.buffer.frames import FrameRecord
from tests.eval.records import FPS, QUESTIONS, window


def same(verdict: Verdict, other: Verdict) -> bool:
    return (verdict.question_id, verdict.detected, verdict.evidence) == (
        other.question_id, other.detected, other.evidence,
    )  # fmt: skip


async def test_the_http_server_behind_the_real_http_engine_decides_the_same(
    stays_records: list[FrameRecord],
) -> None:
    records = window(stays_records, 8.0)
    in_process = PixelEngine()
    with PixelServer() as server:
        settings = EngineSettings(kind="openai", model=MODEL, base_urls=[server.base_url])
        http = OpenAIHttpEngine(settings)
        try:
            assert await http.check_health() == {server.base_url: True}
            by_http = await http.verdicts(http.clip(records, FPS), QUESTIONS)
            reasoning = await http.reason(http.clip(records, FPS), "Is anything red?")
        finally:
            await http.close()
        assert (server.verdict_calls, server.reason_calls) == (1, 1)
    direct = await in_process.verdicts(in_process.clip(records, FPS), QUESTIONS)
    assert by_http.ok
    assert direct.ok
    assert all(same(a, b) for a, b in zip(by_http.verdicts, direct.verdicts, strict=True))
    assert by_http.verdicts[0].detected
    assert by_http.completion.usage.prompt_tokens > 2000  # a 32-frame 448x280 clip
    direct_reasoning = await in_process.reason(in_process.clip(records, FPS), "Is anything red?")
    assert reasoning.answer == direct_reasoning.answer


RECORDS = """Facts:
- rule red ("Is a red object in view?") on camera yard: detected 2 separate times (3 \
windows, 1 alerts), first at 2026-01-01 00:05:00 UTC, last until 2026-01-01 00:40:08 UTC [w2].

Windows:
[w1] camera yard, 2026-01-01 00:05:00 UTC to 2026-01-01 00:05:08 UTC: A scene with a red \
object. (rules detected: red)
[w2] camera yard, 2026-01-01 00:40:00 UTC to 2026-01-01 00:40:08 UTC: A scene with a red \
object. (rules detected: red)
[w3] camera gate, 2026-01-01 00:41:00 UTC to 2026-01-01 00:41:08 UTC: A scene with a blue \
object. (rules detected: none)"""


async def test_a_question_over_records_is_answered_alike_over_http_and_in_process() -> None:
    question = "When was a red object last seen, and a blue one? Any green?"
    with PixelServer() as server:
        http = OpenAIHttpEngine(
            EngineSettings(kind="openai", model=MODEL, base_urls=[server.base_url])
        )
        try:
            by_http = await http.reason_over_records(RECORDS, question)
        finally:
            await http.close()
        assert (server.verdict_calls, server.reason_calls) == (0, 1)
    direct = await PixelEngine().reason_over_records(RECORDS, question)
    assert (
        by_http.answer
        == direct.answer
        == (
            "A red object was detected 2 separate times on camera yard, the last until "
            "2026-01-01 00:40:08 UTC [w2]. A blue object is seen in [w3]. "
            "No green object appears in the records."
        )
    )


def test_the_server_refuses_what_it_cannot_read(stays_records: list[FrameRecord]) -> None:
    clip = jpeg_clip(stays_records[:4], FPS)
    with PixelServer() as server, httpx.Client(base_url=server.base_url) as client:
        assert client.get("/models").json()["data"][0]["id"] == MODEL
        assert client.post("/completions", content=b"{}").status_code == 404
        no_text = {"messages": [{"role": "user", "content": [{"type": "video_url"}]}]}
        refused = client.post("/chat/completions", content=json.dumps(no_text))
        assert refused.status_code == 400
        assert "not a chat completion with a text" in refused.json()["error"]["message"]
        bad_frame = {"type": "video_url", "video_url": {"url": "data:video/jpeg;base64,AAAA"}}
        text = {"type": "text", "text": "sampled at 4 frames per second"}
        body = {"messages": [{"role": "user", "content": [bad_frame, text]}]}
        refused = client.post("/chat/completions", content=json.dumps(body))
        assert refused.json()["error"]["message"] == "frame 0 is not a JPEG"
        assert server.verdict_calls == server.reason_calls == 0
    assert len(clip.jpegs) == 4
