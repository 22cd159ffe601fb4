"""/v1/ask with an engine: the model's answer raw, and placed on the wall clock beside it."""

from __future__ import annotations

import math
import time
import uuid

from agent.api.routes.ask import AskRequest, asked_period
from agent.api.settings import ApiSettings
from agent.engines.clip_times import EN_DASH
from agent.runtime.embedded_redis import EmbeddedRedis
from agent.runtime.startup import connect
from streams.buffer.frames import append_frame
from streams.bus.keys import Keys
from tests.api.conftest import LiveApi, api_settings, create_api_keys, running_api
from tests.conftest import free_port
from tests.engines.frames import make_frame_records
from tests.pipeline.scripted_engine import ScriptedEngine

ANSWER = "Yes: a cyclist crosses at 1.00s and is gone 2-3s."


def test_ask_returns_the_answer_with_its_clip_times_placed(redis_server: EmbeddedRedis) -> None:
    keys = Keys(prefix=f"ask-{uuid.uuid4().hex[:8]}:")
    port = free_port()
    admin, read = create_api_keys(redis_server.url, keys)
    engine = ScriptedEngine(summary=ANSWER, reasoning="At 00:01 a bike enters on the left.")
    with connect(redis_server.url) as client:
        pipe = client.pipeline(transaction=False)
        for record in make_frame_records(count=16, start_s=time.time() - 4.5, camera_id="gate"):
            append_frame(pipe, keys, record, retention_s=600)
        pipe.execute()
        with running_api(redis_server.url, api_settings(port), keys, engine):
            api = LiveApi(f"http://127.0.0.1:{port}", keys, admin, read, client, redis_server.url)
            body = {"camera": "gate", "question": "Is anyone riding a bicycle?", "seconds": 8}
            response = api.client(read).post("/v1/ask", json=body)
    assert response.status_code == 200, response.text
    result = response.json()
    start = result["clip_start"]
    assert (result["frames"], result["clip_fps"]) == (16, 4.0)
    assert result["answer"] == ANSWER
    assert result["answer_placed"] == (
        f"Yes: a cyclist crosses at 1.00s ({clock(start + 1)} UTC) and is gone "
        f"2-3s ({clock(start + 2)}{EN_DASH}{clock(start + 3)} UTC)."
    )
    assert [(t["text"], t["clip_s"], t["at"]) for t in result["times"]] == [
        ("1.00s", 1.0, round(start + 1, 3)), ("2", 2.0, round(start + 2, 3)),
        ("3s", 3.0, round(start + 3, 3)),
    ]  # fmt: skip
    assert result["reasoning"] == "At 00:01 a bike enters on the left."
    assert result["reasoning_placed"].startswith(f"At 00:01 ({clock(start + 1)} UTC) a bike")
    assert [t["text"] for t in result["reasoning_times"]] == ["00:01"]


def clock(epoch_s: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(math.floor(epoch_s + 0.5)))


NOW = 1_767_225_600.0


def period(**body: object) -> tuple[float | None, float]:
    request = AskRequest.model_validate({"question": "Anyone?", **body})
    return asked_period(request, ApiSettings(), NOW)


def test_the_period_asked_about() -> None:
    assert period(camera="gate", seconds=8) == (NOW - 8, NOW + 1)  # the last seconds
    assert period(camera="gate", seconds=8, until=NOW - 3600) == (NOW - 3608, NOW - 3600)
    assert period(camera="gate", seconds=600, until=NOW - 3600) == (NOW - 3660, NOW - 3600)
    assert period(camera="gate", since=NOW - 7200, until=NOW - 3600) == (NOW - 7200, NOW - 3600)
    assert period(until=NOW - 3600) == (None, NOW - 3600)  # every camera: all history before
    assert period(since=0) == (0, NOW + 1)
