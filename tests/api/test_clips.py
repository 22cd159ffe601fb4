"""Clips encoded on request: frames fed to the encoder one at a time (a decoded picture
is gone before the next is decoded), read from Redis by page, a cap on the clip's length
and on encodes at once (429 beyond, with Retry-After)."""

from __future__ import annotations

import asyncio
import io
import threading
import time
import weakref
from collections.abc import AsyncIterator, Iterator, Sequence

import av
import httpx
import numpy as np
import pytest
import redis.asyncio as aioredis
from fastapi import HTTPException
from PIL import Image

from agent.api.clips import encode_clip
from agent.api.limits import ApiLimits
from agent.api.settings import ApiSettings
from agent.pipeline import clip_pages
from agent.pipeline.clip_pages import PAGE_FRAMES, Frame, buffered_pages, evidence_pages
from agent.runtime.embedded_redis import EmbeddedRedis
from streams.buffer.frames import FrameRecord, append_frame
from streams.bus.keys import Keys
from streams.picture import mp4
from streams.picture.mp4 import encode_frames
from tests.api.conftest import LiveApi, live_api_on


def jpeg(shade: int, size: tuple[int, int] = (448, 280)) -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.full((size[1], size[0], 3), shade % 256, np.uint8)).save(out, "JPEG")
    return out.getvalue()


def frame_count(video: bytes) -> int:
    with av.open(io.BytesIO(video)) as container:
        return sum(1 for _ in container.decode(video=0))


def test_each_decoded_picture_is_gone_before_the_next_is_decoded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    decoded: list[weakref.ref[Image.Image]] = []
    alive_at_decode: list[int] = []
    pulled = 0
    opener = mp4._open

    def spy(data: bytes) -> Image.Image:
        alive_at_decode.append(sum(1 for ref in decoded if ref() is not None))
        image = opener(data)
        decoded.append(weakref.ref(image))
        return image

    def frames() -> Iterator[tuple[bytes, float]]:
        nonlocal pulled
        for index in range(40):
            pulled += 1
            yield jpeg(index), index / 4

    monkeypatch.setattr(mp4, "_open", spy)
    video = encode_frames(frames())
    assert pulled == 40
    assert alive_at_decode == [0] * 40  # holding every decoded picture would count up to 39
    assert frame_count(video) == 40


def test_frames_of_another_size_are_fitted_and_the_old_signature_still_works() -> None:
    jpegs = [jpeg(10), jpeg(200, (320, 200)), jpeg(90)]
    video = mp4.encode_mp4(jpegs, [0.0, 0.25, 0.5])
    assert frame_count(video) == 3
    with pytest.raises(mp4.VideoError, match="no frames"):
        mp4.encode_mp4([], [])
    with pytest.raises(mp4.VideoError, match="not a readable JPEG"):
        mp4.encode_mp4([b"not a jpeg"], [0.0])


@pytest.fixture
async def client(redis_server: EmbeddedRedis) -> AsyncIterator[aioredis.Redis]:
    connection = aioredis.from_url(redis_server.url)
    yield connection
    await connection.aclose()


async def test_buffered_frames_are_read_by_page_in_capture_order(
    client: aioredis.Redis, keys: Keys
) -> None:
    count, base = PAGE_FRAMES * 2 + 5, 1_700_000_000.0
    small = jpeg(0, (32, 32))
    pipe = client.pipeline()
    for index in range(count):
        record = FrameRecord("cam1", base + index / 4, index, 0.0, 32, 32, small)
        append_frame(pipe, keys, record, 10**6)
    await pipe.execute()
    pages = [page async for page in buffered_pages(client, keys, "cam1", base, base + 1e3)]
    assert [len(page) for page in pages] == [PAGE_FRAMES, PAGE_FRAMES, 5]
    assert [at for page in pages for _, at in page] == [base + i / 4 for i in range(count)]
    end = base + 10 / 4  # the end is left out
    cut = [page async for page in buffered_pages(client, keys, "cam1", base + 0.25, end)]
    assert [at for _, at in cut[0]] == [base + i / 4 for i in range(1, 10)]


async def test_evidence_frames_are_read_by_page_one_interval_apart(
    client: aioredis.Redis, keys: Keys
) -> None:
    await client.rpush(keys.evidence("al_1"), *[bytes([i]) for i in range(PAGE_FRAMES + 1)])
    pages = [page async for page in evidence_pages(client, keys, "al_1", 50.0, 4.0)]
    assert [len(page) for page in pages] == [PAGE_FRAMES, 1]
    assert pages[1] == [(bytes([PAGE_FRAMES]), 50.0 + PAGE_FRAMES / 4)]
    assert [page async for page in evidence_pages(client, keys, "al_2", 0.0, 4.0)] == []


async def test_an_encode_over_the_cap_is_refused_at_once() -> None:
    limits = ApiLimits.of(ApiSettings(encodes_max=1))
    started, release = asyncio.Event(), asyncio.Event()

    async def held_pages() -> AsyncIterator[list[Frame]]:
        started.set()  # read from once the slot is taken
        yield [(jpeg(1), 0.0)]
        await release.wait()
        yield [(jpeg(2), 0.25)]

    async def one_page() -> AsyncIterator[list[Frame]]:
        yield [(jpeg(3), 0.0)]

    first = asyncio.create_task(encode_clip(limits, held_pages()))
    await started.wait()
    assert limits.encodes.held() == 1
    with pytest.raises(HTTPException) as refused:
        await encode_clip(limits, one_page())
    assert refused.value.status_code == 429
    assert refused.value.headers == {"Retry-After": "5"}
    release.set()
    assert frame_count(await first or b"") == 2
    assert limits.encodes.held() == 0
    assert frame_count(await encode_clip(limits, one_page()) or b"") == 1

    async def no_pages() -> AsyncIterator[list[Frame]]:
        return
        yield

    assert await encode_clip(limits, no_pages()) is None
    assert limits.encodes.held() == 0


@pytest.fixture(scope="module")
def live_api(redis_server: EmbeddedRedis) -> Iterator[LiveApi]:
    with live_api_on(redis_server.url, api={"encodes_max": 1, "clip_max_s": 30.0}) as api:
        yield api


def stored_frames(api: LiveApi, seconds: int) -> float:
    pipe = api.redis.pipeline()
    now = time.time()
    for index in range(seconds * 4):
        record = FrameRecord("cam1", now - seconds + index / 4, index, 0.1, 448, 280, jpeg(index))
        append_frame(pipe, api.keys, record, 600)
    pipe.execute()
    return now


def test_live_clips_past_the_cap_on_encodes_get_429(
    live_api: LiveApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = stored_frames(live_api, 4)
    started, release = threading.Event(), threading.Event()
    add_all = clip_pages._add_all

    def held(writer: mp4.Mp4Writer, frames: Sequence[Frame]) -> None:
        started.set()
        release.wait(30)
        add_all(writer, frames)

    monkeypatch.setattr(clip_pages, "_add_all", held)
    reader = live_api.client(live_api.read)
    params = {"start": now - 4, "end": now}
    answers: list[httpx.Response] = []
    first = threading.Thread(
        target=lambda: answers.append(reader.get("/v1/cameras/cam1/clip.mp4", params=params))
    )
    first.start()
    assert started.wait(30)
    with live_api.client(live_api.read) as other:
        refused = other.get("/v1/cameras/cam1/clip.mp4", params=params)
    release.set()
    first.join(30)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "5"
    assert "api.encodes_max" in refused.json()["detail"]
    assert answers[0].status_code == 200
    assert frame_count(answers[0].content) == 16


def test_live_clips_longer_than_clip_max_s_are_422(live_api: LiveApi) -> None:
    reader = live_api.client(live_api.read)
    params = {"start": 1000.0, "end": 1031.0}
    refused = reader.get("/v1/cameras/cam1/clip.mp4", params=params)
    assert refused.status_code == 422
    assert refused.json()["detail"] == "end must be after start and at most 30 s later"
    missing = reader.get("/v1/cameras/cam1/clip.mp4", params={"start": 1000.0, "end": 1010.0})
    assert missing.status_code == 404
