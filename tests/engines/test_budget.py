"""Prompt budgets: the byte bound, a clip's vision tokens, the checks and the fill."""

from __future__ import annotations

import pytest

from agent.engines.budget import (
    VIDEO_MAX_PIXELS,
    VIDEO_MIN_PIXELS,
    PromptBudget,
    check_request,
    clip_tokens,
    fill,
    frame_grid,
)
from agent.engines.clips import jpeg_clip
from agent.engines.errors import EngineContextError, EngineRequestError
from agent.engines.prompts import ClipFacts, reasoning_prompt
from agent.engines.tokens import ByteBound, TokenizerFile
from tests.engines.frames import MakeRecords


def test_the_byte_bound_is_never_below_the_tokenizers_count(
    model_dir_tokenizer: TokenizerFile,
) -> None:
    texts = [
        "A red truck stands in front of the gate.",
        "漢字カタカナ 😀 éüñ",
        "\u0958\u2126 <|im_end|> 12345",  # NFC lengthens the first, shortens the second
    ]
    bound = ByteBound()
    for text in texts:
        assert model_dir_tokenizer.count(text) <= bound.count(text)
    assert bound.count("\u0958") == 6  # its NFC form, 3 bytes longer
    assert bound.count("\u2126") == 3  # the raw bytes, 1 more than its NFC form


def test_a_clip_costs_frame_pairs_times_its_patches() -> None:
    facts = ClipFacts("dock", 0.0, 4.0, 32)
    assert clip_tokens(facts, 252, 448) == 2304  # the figure vLLM measures (test_local_engine)
    assert clip_tokens(ClipFacts("dock", 0.0, 4.0, 33), 280, 448) == 17 * 160  # odd: padded
    assert frame_grid(126, 224) == (252, 448)  # under the processor's minimum: scaled up
    assert frame_grid(2160, 3840) == (560, 1008)  # over its maximum: scaled down


@pytest.mark.parametrize("size", [(252, 448), (280, 448), (100, 700), (1080, 1920), (28, 28)])
def test_frames_are_resized_as_qwen_vl_utils_does(size: tuple[int, int]) -> None:
    from qwen_vl_utils import smart_resize

    expected = smart_resize(*size, 28, VIDEO_MIN_PIXELS, VIDEO_MAX_PIXELS)
    assert frame_grid(*size) == tuple(expected)


def test_a_clip_over_the_context_is_refused_naming_the_frames_that_fit(
    make_records: MakeRecords,
) -> None:
    clip = jpeg_clip(make_records(count=32, picture_height=224), 4.0)
    prompt = reasoning_prompt(clip.facts, "Is anyone there?")
    budget = PromptBudget(4096, 256, ByteBound())
    check_request(budget, prompt, 256, clip)  # 2304 + ~500 + 256 fit
    with pytest.raises(EngineContextError, match="at most 28 such frames fit") as refused:
        check_request(budget, prompt, 1536, clip)
    assert isinstance(refused.value, EngineRequestError)  # never retried


def test_a_text_prompt_over_the_context_says_by_how_much() -> None:
    budget = PromptBudget(1000, 200, ByteBound())
    with pytest.raises(EngineContextError, match=r"and 200 are kept for the answer: \d+ > "):
        budget.check("the prompt", 801, 200)
    budget.check("the prompt", 800, 200)


def test_fill_takes_pieces_in_priority_order_while_they_fit() -> None:
    assert fill([5, 5, 5], 15) == [0, 1, 2]
    assert fill([5, 20, 5, 4], 12) == [0, 2]  # the big one is left out, smaller ones go on
    assert fill([20], 10) == []
