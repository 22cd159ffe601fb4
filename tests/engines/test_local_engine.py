"""The in-process vLLM engine on the tiny random-weight model: what is real is asserted.

Random weights make the words meaningless, but the token accounting, the fps the
processor sees, the structured-output guarantee and the batching are the real engine's.
"""

from __future__ import annotations

import asyncio

import pytest

from agent.engines.clips import ClipError, PixelClip
from agent.engines.local import LocalEngine
from agent.engines.prompts import Question, verdict_prompt
from tests.engines.frames import MakeRecords

pytestmark = [pytest.mark.engine, pytest.mark.asyncio(loop_scope="session")]

QUESTIONS = [
    Question("person", "Is a person on the loading dock?"),
    Question("blocked", "Is the fire lane blocked?"),
]


def video_tokens(frames: int, width: int, height: int) -> int:
    return frames // 2 * (height // 28) * (width // 28)


async def test_clip_of_32_frames_at_448x252_costs_2304_video_tokens(
    local_engine: LocalEngine, make_records: MakeRecords
) -> None:
    clip = local_engine.clip(make_records(count=32, picture_height=224), fps=4.0)
    assert (clip.width, clip.height) == (448, 252)  # strip included
    answer = await local_engine.verdicts(clip, QUESTIONS[:1])
    assert answer.completion.usage.video_tokens == 2304 == video_tokens(32, 448, 252)
    assert answer.completion.usage.prompt_tokens > 2304


async def test_default_ingest_frames_cost_one_more_patch_row(
    local_engine: LocalEngine, make_records: MakeRecords
) -> None:
    clip = local_engine.clip(make_records(count=32), fps=4.0)  # 448x252 picture + 28-px strip
    assert (clip.width, clip.height) == (448, 280)
    answer = await local_engine.verdicts(clip, QUESTIONS[:1])
    assert answer.completion.usage.video_tokens == 2560 == video_tokens(32, 448, 280)


@pytest.mark.parametrize("fps", [4.0, 1.0])
async def test_true_fps_reaches_the_processor(
    local_engine: LocalEngine, make_records: MakeRecords, fps: float
) -> None:
    """Qwen2.5-VL's time encoding: seconds per temporal patch = 2 / fps."""
    records = make_records(count=32, picture_height=224, fps=fps, box_offset=int(fps) + 100)
    clip = local_engine.clip(records, fps=fps)  # new pixels: not in vLLM's processor cache
    assert isinstance(clip, PixelClip)
    prompt = verdict_prompt(clip.facts, QUESTIONS)
    llm = local_engine._llm  # the engine's own input processor: what the model will get
    request = await llm.input_processor.process_inputs_async(
        "fps-probe",
        local_engine.engine_input(clip, prompt),
        local_engine._verdict_sampling(prompt),
        supported_tasks=await llm.get_supported_tasks(),
    )
    (feature,) = request.mm_features
    assert feature.modality == "video"
    assert feature.mm_position.length == 2304
    assert feature.data["second_per_grid_ts"].data.item() == pytest.approx(2.0 / fps)
    assert feature.data["video_grid_thw"].data.tolist() == [16, 18, 32]


async def test_every_verdict_of_a_concurrent_batch_parses(
    local_engine: LocalEngine, make_records: MakeRecords
) -> None:
    clips = [
        local_engine.clip(make_records(count=16, box_offset=n * 37), fps=4.0) for n in range(8)
    ]
    peak = 0

    async def watch() -> None:
        nonlocal peak
        while True:
            peak = max(peak, local_engine.in_flight)
            await asyncio.sleep(0.005)

    watcher = asyncio.create_task(watch())
    answers = await asyncio.gather(*(local_engine.verdicts(clip, QUESTIONS) for clip in clips))
    watcher.cancel()
    assert peak >= 4, "requests were not in flight together, so vLLM could not batch them"
    for clip, answer in zip(clips, answers, strict=True):
        assert answer.ok, (answer.failure, answer.completion.text)
        assert [v.question_id for v in answer.verdicts] == ["person", "blocked"]
        for verdict in answer.verdicts:
            assert 0.0 <= verdict.confidence <= 1.0
            if verdict.evidence is not None:
                assert clip.facts.start_s <= verdict.evidence.start_epoch_s
                assert verdict.evidence.end_epoch_s <= clip.facts.start_s + clip.facts.duration_s
        assert answer.completion.finish_reason == "stop"
        assert answer.completion.latency_ms > 0


async def test_reasoning_is_split_or_recorded_unparsed(
    local_engine: LocalEngine, make_records: MakeRecords
) -> None:
    clip = local_engine.clip(make_records(count=8), fps=4.0)
    answers = await asyncio.gather(*(local_engine.reason(clip, "What happened?") for _ in range(3)))
    for answer in answers:
        assert answer.completion.text  # the raw text is always kept
        assert answer.completion.usage.completion_tokens <= 96
        if answer.ok:
            assert answer.answer is not None
        else:
            assert answer.failure is not None
            assert answer.answer is None
            assert answer.reasoning is None


async def test_a_jpeg_clip_is_refused_by_the_in_process_engine(
    local_engine: LocalEngine, make_records: MakeRecords
) -> None:
    from agent.engines.clips import jpeg_clip

    with pytest.raises(ClipError, match="PixelClip"):
        await local_engine.verdicts(jpeg_clip(make_records(count=2), 4.0), QUESTIONS)
