"""vLLM in-process: ``AsyncLLM`` with the clip as a video (RGB frames + true fps).

Requests are submitted concurrently (up to ``max_concurrency`` in flight) so vLLM's
scheduler batches them. Verdicts use structured outputs (xgrammar, no free whitespace),
so they always parse; reasoning uses Cosmos-Reason1's recommended sampling.
vLLM starts its workers with spawn: a script that builds this engine needs the
``if __name__ == "__main__":`` guard.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from typing import Any

from agent.engines.answers import (
    Completion,
    ReasoningAnswer,
    Usage,
    VerdictAnswer,
    parse_reasoning,
    parse_verdicts,
)
from agent.engines.budget import PromptBudget, check_request
from agent.engines.clips import Clip, ClipError, PixelClip, pixel_clip
from agent.engines.errors import EngineContextError, EngineError, context_overflow
from agent.engines.prompts import (
    Prompt,
    Question,
    history_prompt,
    reasoning_prompt,
    verdict_prompt,
    verdict_token_budget,
)
from agent.engines.settings import EngineSettings
from agent.engines.testmodel import is_test_model
from agent.engines.tokens import ChatTokenizer
from streams.buffer.frames import FrameRecord
from streams.picture.marks import NO_MARKS, Marks

logger = logging.getLogger(__name__)


class LocalEngine:
    def __init__(self, llm: Any, settings: EngineSettings) -> None:
        """Takes a started ``vllm.v1.engine.async_llm.AsyncLLM``; see ``start``."""
        self._llm = llm
        self._settings = settings
        self._tokenizer = ChatTokenizer(llm.get_tokenizer())
        self._context_tokens = int(llm.model_config.max_model_len)  # as vLLM derived it
        self._video_token_id = int(llm.model_config.hf_config.video_token_id)
        self._slots = asyncio.Semaphore(settings.max_concurrency)

    @classmethod
    def start(cls, settings: EngineSettings) -> LocalEngine:
        """Loads the model (seconds for the test model, minutes for the 7B)."""
        from vllm.engine.arg_utils import AsyncEngineArgs
        from vllm.v1.engine.async_llm import AsyncLLM

        if is_test_model(settings.model):
            logger.warning("ENGINE RUNS THE TINY RANDOM-WEIGHT TEST MODEL: answers are noise")
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
        llm = AsyncLLM.from_engine_args(AsyncEngineArgs(**engine_arguments(settings)))
        return cls(llm, settings)

    @property
    def in_flight(self) -> int:
        """Requests the engine holds now (queued or running): what it can batch."""
        return int(self._llm.get_num_unfinished_requests())

    @property
    def budget(self) -> PromptBudget:
        return PromptBudget(
            self._context_tokens, self._settings.reasoning_max_tokens, self._tokenizer
        )

    def clip(self, records: list[FrameRecord], fps: float, marks: Marks = NO_MARKS) -> Clip:
        return pixel_clip(records, fps, marks)

    async def verdicts(self, clip: Clip, questions: list[Question]) -> VerdictAnswer:
        pixels = _pixels(clip)
        prompt = verdict_prompt(pixels.facts, questions)
        assert prompt.schema is not None
        check_request(self.budget, prompt, verdict_token_budget(prompt.schema), pixels)
        completion = await self._complete(pixels, prompt, self._verdict_sampling(prompt))
        return parse_verdicts(completion, pixels.facts, questions)

    async def reason(self, clip: Clip, question: str) -> ReasoningAnswer:
        pixels = _pixels(clip)
        prompt = reasoning_prompt(pixels.facts, question)
        check_request(self.budget, prompt, self._settings.reasoning_max_tokens, pixels)
        return parse_reasoning(await self._complete(pixels, prompt, self._reasoning_sampling()))

    async def reason_over_records(self, records: str, question: str) -> ReasoningAnswer:
        prompt = history_prompt(records, question)
        check_request(self.budget, prompt, self._settings.reasoning_max_tokens)
        return parse_reasoning(await self._complete(None, prompt, self._reasoning_sampling()))

    async def close(self) -> None:
        self._llm.shutdown()

    def engine_input(self, clip: PixelClip | None, prompt: Prompt) -> dict[str, Any]:
        """The prompt as vLLM takes it: chat-templated text, then video frames and
        metadata when there is a clip."""
        text = self._tokenizer.render(prompt, video=clip is not None)
        if clip is None:
            return {"prompt": text}
        facts = clip.facts
        metadata = {
            "fps": facts.fps,
            "duration": facts.duration_s,
            "total_num_frames": facts.frame_count,
            "frames_indices": list(range(facts.frame_count)),
            "video_backend": "opencv",
            "do_sample_frames": False,
        }
        return {
            "prompt": text,
            "multi_modal_data": {"video": (clip.frames, metadata)},
            "mm_processor_kwargs": {"fps": facts.fps},
        }

    async def _complete(self, clip: PixelClip | None, prompt: Prompt, sampling: Any) -> Completion:
        engine_input = self.engine_input(clip, prompt)
        async with self._slots:
            started = time.perf_counter()
            final = None
            try:
                async for output in self._llm.generate(engine_input, sampling, _request_id()):
                    final = output
            except Exception as error:  # vLLM raises its own types; callers see one
                raise _engine_error(error) from error
            latency_ms = (time.perf_counter() - started) * 1000
        if final is None or not final.outputs:
            raise EngineError("vLLM returned no output")
        return self._completion(final, latency_ms)

    def _completion(self, output: Any, latency_ms: float) -> Completion:
        choice = output.outputs[0]
        prompt_ids = list(output.prompt_token_ids or [])
        usage = Usage(
            prompt_tokens=len(prompt_ids),
            completion_tokens=len(choice.token_ids),
            video_tokens=prompt_ids.count(self._video_token_id),
        )
        return Completion(choice.text, choice.finish_reason, usage, latency_ms)

    def _verdict_sampling(self, prompt: Prompt) -> Any:
        from vllm import SamplingParams
        from vllm.sampling_params import StructuredOutputsParams

        assert prompt.schema is not None
        return SamplingParams(
            temperature=self._settings.verdict_temperature,
            max_tokens=verdict_token_budget(prompt.schema),
            structured_outputs=StructuredOutputsParams(json=prompt.schema),
        )

    def _reasoning_sampling(self) -> Any:
        from vllm import SamplingParams

        settings = self._settings
        return SamplingParams(
            temperature=settings.reasoning_temperature,
            top_p=settings.reasoning_top_p,
            repetition_penalty=settings.reasoning_repetition_penalty,
            max_tokens=settings.reasoning_max_tokens,
        )


def engine_arguments(settings: EngineSettings) -> dict[str, Any]:
    """vLLM engine arguments for these settings (also the server's, as CLI flags)."""
    return {
        "model": settings.model,
        "served_model_name": settings.request_model,
        "dtype": settings.dtype,
        "max_model_len": settings.max_model_len,
        "gpu_memory_utilization": settings.gpu_memory_utilization,
        "tensor_parallel_size": settings.tensor_parallel_size,
        "enforce_eager": settings.enforce_eager,
        "max_num_seqs": settings.max_concurrency,
        "limit_mm_per_prompt": {"image": 0, "video": 1},
        "structured_outputs_config": {"backend": "xgrammar", "disable_any_whitespace": True},
        "disable_log_stats": True,
        "seed": settings.seed if settings.seed is not None else 0,
    }


def _engine_error(error: Exception) -> EngineError:
    message = f"vLLM request failed: {error}"
    over, _ = context_overflow(str(error))
    return EngineContextError(message) if over else EngineError(message)


def _pixels(clip: Clip) -> PixelClip:
    if not isinstance(clip, PixelClip):
        raise ClipError("the in-process engine takes a PixelClip (build it with engine.clip)")
    return clip


def _request_id() -> str:
    return f"vigil-{uuid.uuid4().hex}"
