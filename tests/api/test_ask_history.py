"""/v1/ask over history, behind a real API on a real archive (LanceDB, the embedding
model) and real Redis, answered by the pixel engine reading the records it is sent: the
answer's counts, last time and citations are checked against the windows written."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from agent.archive.embedder import Embedder
from agent.archive.history import clock
from agent.archive.settings import ArchiveSettings
from agent.archive.store import ArchiveStore, WindowRow
from agent.engines.budget import PromptBudget
from agent.engines.tokens import ByteBound
from agent.eval.pixel_engine import REASONING_TOKENS, PixelEngine
from agent.pipeline.archive_records import RuleVerdict, WindowRecord
from agent.pipeline.rules import Rule
from agent.pipeline.rules_store import RuleStore
from agent.runtime.embedded_redis import EmbeddedRedis
from agent.runtime.startup import connect_async
from streams.buffer.frames import append_frame
from streams.bus.keys import Keys
from tests.api.conftest import LiveApi, api_settings, create_api_keys, running_api
from tests.conftest import free_port
from tests.engines.frames import make_frame_records

HOUR_S = 3600.0
WINDOW_S = 8.0
NOW_S = float(int(time.time()))
PERIOD_START_S = NOW_S - 3 * HOUR_S
RED = "A scene with a red object."
QUIET = "A scene with no coloured object."
# Minutes into the period of the yard's red windows: three separate times.
RED_MINUTES = (10, 11, 70, 150)
RED_RULE = Rule(id="red", question="Is a red object in the yard?")


@dataclass(frozen=True)
class HistoryApi:
    api: LiveApi
    engine: PixelEngine


def yard_records() -> list[WindowRecord]:
    made = []
    for minute in range(0, 160, 1):
        start_ms = round((PERIOD_START_S + minute * 60) * 1000)
        red = minute in RED_MINUTES
        verdicts = (RuleVerdict("red", red, 0.9, "red seen" if red else "no red"),)
        caption = RED if red else QUIET
        end_ms = start_ms + round(WINDOW_S * 1000)
        made.append(WindowRecord("yard", start_ms, end_ms, caption, verdicts, None, None))
    return made


def red_window_id(minute: int) -> str:
    return f"yard:{round((PERIOD_START_S + minute * 60) * 1000)}"


async def prepare(data_dir: Path, redis_url: str, keys: Keys) -> None:
    embedder = Embedder.load(ArchiveSettings().embedding_model)
    store = await ArchiveStore.open(ArchiveSettings(), data_dir, embedder.dim)
    made = yard_records()
    vectors = embedder.embed([record.caption for record in made])
    await store.upsert_windows(
        [WindowRow(record, None, vector) for record, vector in zip(made, vectors, strict=True)]
    )
    client = connect_async(redis_url)
    await RuleStore(client, keys).add(RED_RULE)
    pipe = client.pipeline(transaction=False)
    for record in make_frame_records(count=16, start_s=time.time() - 4.5, camera_id="yard"):
        append_frame(pipe, keys, record, retention_s=600)
    await pipe.execute()
    await client.aclose()


@pytest.fixture(scope="module")
def history_api(
    redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HistoryApi]:
    data_dir = tmp_path_factory.mktemp("history-data")
    keys = Keys(prefix=f"history-{uuid.uuid4().hex[:8]}:")
    asyncio.run(prepare(data_dir, redis_server.url, keys))
    port = free_port()
    admin, read = create_api_keys(redis_server.url, keys)
    settings = api_settings(port).model_copy(update={"data_dir": data_dir})
    engine = PixelEngine()
    with (
        running_api(redis_server.url, settings, keys, engine),
        redis.Redis.from_url(redis_server.url) as client,
    ):
        api = LiveApi(f"http://127.0.0.1:{port}", keys, admin, read, client, redis_server.url)
        yield HistoryApi(api, engine)


def ask(history: HistoryApi, **body: object) -> dict[str, object]:
    response = history.api.client(history.api.read).post("/v1/ask", json=body, timeout=60)
    assert response.status_code == 200, response.text
    result: dict[str, object] = response.json()
    return result


def test_when_was_the_last_time_is_answered_from_the_counted_records(
    history_api: HistoryApi,
) -> None:
    result = ask(
        history_api,
        question="When was a red object last seen in the yard, and how often?",
        since=PERIOD_START_S,
    )
    last_end_ms = round((PERIOD_START_S + RED_MINUTES[-1] * 60 + WINDOW_S) * 1000)
    assert result["mode"] == "history"
    assert result["no_evidence"] is False
    assert result["facts"] == [
        {
            "rule": "red", "camera": "yard", "windows": 4, "occurrences": 3, "alerts": 0,
            "first": PERIOD_START_S + RED_MINUTES[0] * 60, "last": last_end_ms / 1000,
            "last_window": red_window_id(RED_MINUTES[-1]),
        }
    ]  # fmt: skip
    answer = str(result["answer"])
    assert "detected 3 separate times on camera yard" in answer
    assert f"the last until {clock(last_end_ms)}" in answer
    assert result["cited"] == [red_window_id(RED_MINUTES[-1])]
    windows = {window["id"]: window for window in result["windows"]}  # type: ignore[attr-defined]
    cited = windows[red_window_id(RED_MINUTES[-1])]
    assert cited["cited"] is True
    assert cited["caption"] == RED
    assert cited["clip_url"] is None  # hours ago: no longer buffered


def test_windows_the_answer_names_are_cited_with_their_times(history_api: HistoryApi) -> None:
    until = PERIOD_START_S + 60 * 60
    result = ask(
        history_api,
        question="Where is a red object?",
        camera="yard",
        since=PERIOD_START_S,
        until=until,
    )
    red_ids = [red_window_id(minute) for minute in RED_MINUTES[:2]]
    assert result["facts"][0]["windows"] == 2  # type: ignore[index]
    assert result["cited"] == [red_ids[1]]  # the facts cite the last detection
    shown = [w["id"] for w in result["windows"]]  # type: ignore[attr-defined]
    assert set(red_ids) <= set(shown)
    assert all(w["start"] < until for w in result["windows"])  # type: ignore[attr-defined]


def test_a_colour_never_seen_gets_no_citation(history_api: HistoryApi) -> None:
    result = ask(history_api, question="Was a blue object ever there?", since=PERIOD_START_S)
    assert result["answer"] == "No blue object appears in the records."
    assert result["cited"] == []


def test_a_period_without_records_says_so_without_calling_the_model(
    history_api: HistoryApi,
) -> None:
    calls = history_api.engine.reason_calls
    since = PERIOD_START_S - 10 * HOUR_S
    result = ask(history_api, question="Was anything red there?", since=since, until=since + HOUR_S)
    assert result["no_evidence"] is True
    assert str(result["answer"]).startswith("No evidence in that period")
    assert (result["windows"], result["facts"], result["cited"]) == ([], [], [])
    assert history_api.engine.reason_calls == calls


def test_recent_seconds_of_a_buffered_camera_are_still_asked_live(
    history_api: HistoryApi,
) -> None:
    result = ask(history_api, question="Is anything red here?", camera="yard", seconds=8)
    assert result["mode"] == "live"
    assert result["frames"] == 16


def test_a_camera_period_older_than_its_buffer_goes_to_the_archive(
    history_api: HistoryApi,
) -> None:
    since = PERIOD_START_S + 9 * 60
    result = ask(history_api, question="Red?", camera="yard", since=since, until=since + 30)
    assert result["mode"] == "history"
    assert result["cited"] == []  # the window at minute 10 starts 60 s after `since`


@pytest.mark.parametrize(
    "body",
    [
        {"question": "Red?", "since": 200.0, "until": 100.0},
        {"question": "Red?", "since": -1.0},
        {"question": "Red?", "camera": "../yard"},
        {"question": "Red?", "when": "yesterday"},
    ],
)
def test_bad_periods_are_refused(history_api: HistoryApi, body: dict[str, object]) -> None:
    response = history_api.api.client(history_api.api.read).post("/v1/ask", json=body)
    assert response.status_code == 422, response.text


def test_a_camera_question_with_a_past_until_looks_at_its_seconds_before_it(
    history_api: HistoryApi,
) -> None:
    """Without since, a past until does not widen to all history before it."""
    until = PERIOD_START_S + RED_MINUTES[1] * 60 + 4
    result = ask(history_api, question="Red?", camera="yard", until=until, seconds=8)
    assert (result["mode"], result["since"], result["until"]) == ("history", until - 8, until)
    assert [w["id"] for w in result["windows"]] == [red_window_id(RED_MINUTES[1])]  # type: ignore[attr-defined]
    assert result["facts"][0]["windows"] == 1  # type: ignore[index]


def test_records_beyond_the_context_are_left_out_and_counted(
    history_api: HistoryApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = {"question": "Where is a red object?", "since": PERIOD_START_S}
    whole = ask(history_api, **body)
    small = PromptBudget(REASONING_TOKENS + 1300, REASONING_TOKENS, ByteBound())
    monkeypatch.setattr(history_api.engine, "budget", small)
    cut = ask(history_api, **body)
    assert cut["facts"] == whole["facts"]  # facts first
    kept = [w["id"] for w in cut["windows"]]  # type: ignore[attr-defined]
    assert 0 < len(kept) < len(whole["windows"])  # type: ignore[arg-type]
    assert cut["windows_left_out"] == len(whole["windows"]) - len(kept)  # type: ignore[arg-type]
    assert red_window_id(RED_MINUTES[-1]) in kept  # the last detection before best matches
    assert kept == sorted(kept, key=lambda window_id: int(window_id.split(":")[1]))
    assert whole["windows_left_out"] == 0


def test_a_question_longer_than_the_context_is_a_422_with_the_reason(
    history_api: HistoryApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = PromptBudget(REASONING_TOKENS + 1500, REASONING_TOKENS, ByteBound())
    monkeypatch.setattr(history_api.engine, "budget", small)
    body = {"question": "Was a red object there? " * 80, "since": PERIOD_START_S}
    response = history_api.api.client(history_api.api.read).post("/v1/ask", json=body)
    assert response.status_code == 422, response.text
    assert "does not fit the model's context" in response.json()["detail"]
    assert "the question with the prompt's instructions takes" in response.json()["detail"]
