"""What one prompt may hold: the model's context, less the tokens kept for the answer.

A request is measured before it is sent (text with the model's tokenizer or a safe bound,
a clip by the processor's own arithmetic), so a prompt that cannot fit is refused with
the reason (``EngineContextError``) instead of failing at the server. ``fill`` picks
what fits from pieces in priority order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from agent.engines.clips import Clip
from agent.engines.errors import EngineContextError
from agent.engines.prompts import ClipFacts, Prompt
from agent.engines.tokens import TokenCounter

PATCH_FACTOR = 28  # 14-px patches merged 2x2: one vision token per 28x28 pixels
TEMPORAL_PATCH = 2  # frames merged in pairs
# Qwen2-VL's video processor bounds on the pixels of one frame after resizing.
VIDEO_MIN_PIXELS = 128 * 28 * 28
VIDEO_MAX_PIXELS = 768 * 28 * 28


@dataclass(frozen=True, slots=True)
class PromptBudget:
    """An engine's context (prompt and answer together), the ``max_tokens`` a reasoning
    answer is given, and how the engine counts tokens."""

    context_tokens: int
    reasoning_tokens: int
    counter: TokenCounter

    def room(self, answer_tokens: int) -> int:
        """Prompt tokens left once ``answer_tokens`` are kept for the answer."""
        return self.context_tokens - answer_tokens

    def check(self, what: str, prompt_tokens: int, answer_tokens: int) -> None:
        """Raises EngineContextError when the prompt and the answer do not fit."""
        if prompt_tokens <= self.room(answer_tokens):
            return
        counted = "" if self.counter.exact else " (an upper bound: no tokenizer at hand)"
        raise EngineContextError(
            f"{what} takes {prompt_tokens} tokens{counted} and {answer_tokens} are kept for "
            f"the answer: {prompt_tokens + answer_tokens} > the model's context of "
            f"{self.context_tokens} tokens"
        )


def frame_grid(height: int, width: int) -> tuple[int, int]:
    """Qwen2-VL's ``smart_resize`` of a video frame: sides in multiples of 28 within
    the processor's pixel bounds."""
    factor = PATCH_FACTOR
    rows = max(factor, round(height / factor) * factor)
    cols = max(factor, round(width / factor) * factor)
    if rows * cols > VIDEO_MAX_PIXELS:
        beta = math.sqrt(height * width / VIDEO_MAX_PIXELS)
        rows = max(factor, math.floor(height / beta / factor) * factor)
        cols = max(factor, math.floor(width / beta / factor) * factor)
    elif rows * cols < VIDEO_MIN_PIXELS:
        beta = math.sqrt(VIDEO_MIN_PIXELS / (height * width))
        rows = math.ceil(height * beta / factor) * factor
        cols = math.ceil(width * beta / factor) * factor
    return rows, cols


def pair_tokens(height: int, width: int) -> int:
    """Vision tokens of two frames (one temporal patch) of this size."""
    rows, cols = frame_grid(height, width)
    return (rows // PATCH_FACTOR) * (cols // PATCH_FACTOR)


def clip_tokens(facts: ClipFacts, height: int, width: int) -> int:
    """Vision tokens of a clip: (frames / 2, rounded up) x tokens per frame pair."""
    return math.ceil(facts.frame_count / TEMPORAL_PATCH) * pair_tokens(height, width)


def check_request(
    budget: PromptBudget, prompt: Prompt, answer_tokens: int, clip: Clip | None = None
) -> None:
    """Raises EngineContextError when the prompt (with the clip's vision tokens, when
    there is one) and ``answer_tokens`` exceed the context."""
    text_tokens = budget.counter.count_prompt(prompt, video=clip is not None)
    if clip is None:
        budget.check("the prompt", text_tokens, answer_tokens)
        return
    size = (clip.height, clip.width)
    video = clip_tokens(clip.facts, *size)
    if text_tokens + video <= budget.room(answer_tokens):
        return
    most = (budget.room(answer_tokens) - text_tokens) // pair_tokens(*size) * TEMPORAL_PATCH
    what = (
        f"the clip ({clip.facts.frame_count} frames of {clip.width}x{clip.height}: {video} "
        f"vision tokens; at most {max(0, most)} such frames fit) with its text "
        f"({text_tokens} tokens)"
    )
    budget.check(what, text_tokens + video, answer_tokens)


def fill(costs: Sequence[int], room: int) -> list[int]:
    """Indices of the pieces taken, in priority order (``costs`` most important first):
    each piece that still fits is taken, one that does not is left out."""
    taken = []
    for index, cost in enumerate(costs):
        if cost <= room:
            taken.append(index)
            room -= cost
    return taken
