"""Any OpenAI-compatible server (``vllm serve``, NVIDIA NIM) over HTTP.

The clip travels as ``data:video/jpeg;base64,<jpg1>,<jpg2>,…`` with its true fps in
``media_io_kwargs`` (a vLLM server needs ``--trust-request-mm-kwargs`` for that, or
``--media-io-kwargs '{"video": {"fps": 4, "num_frames": -1}}'`` server-wide). Verdicts
use ``response_format: json_schema``. Requests go to the base URL with the fewest in
flight; 429, 5xx and connection errors are retried with exponential backoff, failing over
to another healthy URL first; a timeout moves to another URL or ends the request.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import random
import time
from dataclasses import dataclass
from typing import Any

import httpx

from agent.engines.answers import (
    Completion,
    ReasoningAnswer,
    Usage,
    VerdictAnswer,
    parse_reasoning,
    parse_verdicts,
)
from agent.engines.budget import PromptBudget, check_request
from agent.engines.clips import Clip, ClipError, JpegClip, jpeg_clip
from agent.engines.endpoints import Endpoint, EndpointPool
from agent.engines.errors import (
    EngineContextError,
    EngineError,
    EngineOverloadedError,
    EngineRequestError,
    EngineResponseError,
    EngineTimeoutError,
    EngineUnavailableError,
    context_overflow,
)
from agent.engines.prompts import (
    Prompt,
    Question,
    history_prompt,
    reasoning_prompt,
    verdict_prompt,
    verdict_token_budget,
)
from agent.engines.settings import EngineSettings
from agent.engines.tokens import ByteBound, TokenCounter, TokenizerFile
from streams.buffer.frames import FrameRecord
from streams.picture.marks import NO_MARKS, Marks

logger = logging.getLogger(__name__)
HEALTH_TIMEOUT_S = 2.0
_DATA_URL_SLOT = "@@vigil-video-data-url@@"


@dataclass(frozen=True, slots=True)
class _Attempt:
    """A failed try: the error to raise if it was the last, and how to go on."""

    error: EngineError
    endpoint_at_fault: bool
    retry_after_s: float | None = None
    retryable: bool = True


class OpenAIHttpEngine:
    def __init__(self, settings: EngineSettings, client: httpx.AsyncClient | None = None) -> None:
        self._settings = settings
        self._pool = EndpointPool(settings.base_urls, settings.unhealthy_for_s)
        self._client = client or _client(settings)
        self._slots = asyncio.Semaphore(settings.max_concurrency)
        self._health_task: asyncio.Task[None] | None = None
        self._counter: TokenCounter = (
            TokenizerFile.load(settings.tokenizer) if settings.tokenizer else ByteBound()
        )

    @property
    def budget(self) -> PromptBudget:
        """The smallest context the servers report (``max_model_len`` in /v1/models, or
        in a refusal), else the ``max_model_len`` setting."""
        reported = [e.context_tokens for e in self._pool.endpoints if e.context_tokens]
        context = min(reported, default=self._settings.max_model_len)
        return PromptBudget(context, self._settings.reasoning_max_tokens, self._counter)

    @property
    def endpoints(self) -> list[Endpoint]:
        return self._pool.endpoints

    def start_health_checks(self) -> None:
        """Checks every endpoint now and then every ``unhealthy_for_s``, until close()."""
        if self._health_task is None:
            self._health_task = asyncio.create_task(self._health_loop(), name="engine-health")

    async def check_health(self) -> dict[str, bool]:
        results = await asyncio.gather(*(self._check(e) for e in self._pool.endpoints))
        return {e.base_url: ok for e, ok in zip(self._pool.endpoints, results, strict=True)}

    def clip(self, records: list[FrameRecord], fps: float, marks: Marks = NO_MARKS) -> Clip:
        return jpeg_clip(records, fps, self._settings.jpeg_quality, marks)

    async def verdicts(self, clip: Clip, questions: list[Question]) -> VerdictAnswer:
        jpegs = _jpegs(clip)
        prompt = verdict_prompt(jpegs.facts, questions)
        assert prompt.schema is not None
        check_request(self.budget, prompt, verdict_token_budget(prompt.schema), jpegs)
        completion = await self.complete(self.request_body(jpegs, prompt))
        return parse_verdicts(completion, jpegs.facts, questions)

    async def reason(self, clip: Clip, question: str) -> ReasoningAnswer:
        jpegs = _jpegs(clip)
        prompt = reasoning_prompt(jpegs.facts, question)
        check_request(self.budget, prompt, self._settings.reasoning_max_tokens, jpegs)
        return parse_reasoning(await self.complete(self.request_body(jpegs, prompt)))

    async def reason_over_records(self, records: str, question: str) -> ReasoningAnswer:
        prompt = history_prompt(records, question)
        check_request(self.budget, prompt, self._settings.reasoning_max_tokens)
        body = self.request_body(None, prompt)
        return parse_reasoning(await self.complete(body))

    async def close(self) -> None:
        if self._health_task is not None:
            self._health_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._health_task
            self._health_task = None
        await self._client.aclose()

    def request_body(self, clip: JpegClip | None, prompt: Prompt) -> bytes:
        """The chat-completion request, serialised: the video (when there is a clip)
        first, then the text.

        The ~1 MB data URL is spliced in as bytes (base64 needs no JSON escaping) rather
        than run through the JSON encoder: it is the largest thing a worker builds.
        """
        content: list[dict[str, Any]] = [{"type": "text", "text": prompt.text}]
        if clip is not None:
            content.insert(0, {"type": "video_url", "video_url": {"url": _DATA_URL_SLOT}})
        body: dict[str, Any] = {
            "model": self._settings.request_model,
            "messages": [
                {"role": "system", "content": prompt.system},
                {"role": "user", "content": content},
            ],
            **self._sampling(prompt),
        }
        if clip is None:
            return json.dumps(body, separators=(",", ":")).encode()
        if self._settings.send_media_io_kwargs:
            fps, count = clip.facts.fps, clip.facts.frame_count
            body["media_io_kwargs"] = {"video": {"fps": fps, "num_frames": count}}
            body["mm_processor_kwargs"] = {"fps": fps}
        head, tail = json.dumps(body, separators=(",", ":")).split(_DATA_URL_SLOT)
        return b"".join((head.encode(), _video_data_url(clip), tail.encode()))

    async def complete(self, body: bytes) -> Completion:
        async with self._slots:
            started = time.perf_counter()
            data = await self._post_with_retries(body)
            latency_ms = (time.perf_counter() - started) * 1000
        return _completion(data, latency_ms)

    def _sampling(self, prompt: Prompt) -> dict[str, Any]:
        settings = self._settings
        if prompt.schema is None:
            return {
                "temperature": settings.reasoning_temperature,
                "top_p": settings.reasoning_top_p,
                "repetition_penalty": settings.reasoning_repetition_penalty,
                "max_tokens": settings.reasoning_max_tokens,
            }
        schema = {"name": "verdicts", "schema": prompt.schema, "strict": True}
        return {
            "temperature": settings.verdict_temperature,
            "max_tokens": verdict_token_budget(prompt.schema),
            "response_format": {"type": "json_schema", "json_schema": schema},
        }

    async def _post_with_retries(self, body: bytes) -> dict[str, Any]:
        tried: set[str] = set()
        attempt: _Attempt | None = None
        for number in range(self._settings.max_retries + 1):
            endpoint = self._pool.pick(frozenset(tried))
            endpoint.outstanding += 1
            try:
                return await self._post_once(endpoint, body)
            except _FailedError as failed:
                attempt = failed.attempt
            finally:
                endpoint.outstanding -= 1
            tried.add(endpoint.base_url)
            if attempt.endpoint_at_fault:
                self._pool.mark_failed(endpoint, str(attempt.error))
            if not self._should_retry(attempt, tried, number):
                break
            await asyncio.sleep(self._delay_s(attempt, tried, number))
        assert attempt is not None
        raise attempt.error

    def _should_retry(self, attempt: _Attempt, tried: set[str], number: int) -> bool:
        if not attempt.retryable or number >= self._settings.max_retries:
            return False
        if isinstance(attempt.error, EngineTimeoutError):
            return self._pool.any_healthy(frozenset(tried))  # never wait twice on one URL
        return True

    def _delay_s(self, attempt: _Attempt, tried: set[str], number: int) -> float:
        if attempt.retry_after_s is None and self._pool.any_healthy(frozenset(tried)):
            return 0.0  # fail over at once
        settings = self._settings
        backoff = min(settings.backoff_cap_s, settings.backoff_initial_s * 2.0**number)
        jittered = backoff * random.uniform(0.5, 1.0)
        if attempt.retry_after_s is not None:
            return min(settings.backoff_cap_s, max(jittered, attempt.retry_after_s))
        return jittered

    async def _post_once(self, endpoint: Endpoint, body: bytes) -> dict[str, Any]:
        url = f"{endpoint.base_url}/chat/completions"
        try:
            response = await self._client.post(url, content=body)
        except httpx.TimeoutException as error:
            raise _FailedError(_timeout(endpoint, error)) from None
        except httpx.TransportError as error:
            message = f"cannot reach {endpoint.base_url}: {type(error).__name__}"
            raise _FailedError(
                _Attempt(EngineUnavailableError(message), endpoint_at_fault=True)
            ) from None
        if response.status_code != httpx.codes.OK:
            raise _FailedError(_status_attempt(endpoint, response))
        self._pool.mark_healthy(endpoint)
        return _json_body(endpoint, response)

    async def _health_loop(self) -> None:
        while True:
            await self.check_health()
            await asyncio.sleep(self._settings.unhealthy_for_s)

    async def _check(self, endpoint: Endpoint) -> bool:
        try:
            response = await self._client.get(
                f"{endpoint.base_url}/models", timeout=HEALTH_TIMEOUT_S
            )
            healthy = response.status_code == httpx.codes.OK
        except httpx.HTTPError:
            healthy = False
        if healthy:
            endpoint.context_tokens = self._served_context(response) or endpoint.context_tokens
            self._pool.mark_healthy(endpoint)
        else:
            self._pool.mark_failed(endpoint)
        return healthy

    def _served_context(self, response: httpx.Response) -> int | None:
        """``max_model_len`` of the served model in a /v1/models answer (vLLM's)."""
        try:
            models = response.json()["data"]
            lengths = [
                int(model["max_model_len"])
                for model in models
                if model.get("id") == self._settings.request_model and "max_model_len" in model
            ]
        except (ValueError, KeyError, TypeError, AttributeError):
            return None
        return lengths[0] if lengths else None


class _FailedError(Exception):
    def __init__(self, attempt: _Attempt) -> None:
        super().__init__(str(attempt.error))
        self.attempt = attempt


def _client(settings: EngineSettings) -> httpx.AsyncClient:
    headers = {"Content-Type": "application/json"}
    if settings.api_key is not None:
        headers["Authorization"] = f"Bearer {settings.api_key.get_secret_value()}"
    timeout = httpx.Timeout(settings.request_timeout_s, connect=settings.connect_timeout_s)
    limits = httpx.Limits(max_connections=settings.max_concurrency * 2)
    return httpx.AsyncClient(headers=headers, timeout=timeout, limits=limits)


def _timeout(endpoint: Endpoint, error: httpx.TimeoutException) -> _Attempt:
    if isinstance(error, httpx.ConnectTimeout):
        message = f"cannot connect to {endpoint.base_url} within the connect timeout"
        return _Attempt(EngineUnavailableError(message), endpoint_at_fault=True)
    message = f"{endpoint.base_url} did not answer within the request timeout"
    return _Attempt(EngineTimeoutError(message), endpoint_at_fault=True)


def _status_attempt(endpoint: Endpoint, response: httpx.Response) -> _Attempt:
    status = response.status_code
    detail = f"{endpoint.base_url} answered {status}: {_error_detail(response)}"
    if status == httpx.codes.TOO_MANY_REQUESTS:
        return _Attempt(
            EngineOverloadedError(detail),
            False,
            _retry_after_s(response.headers.get("Retry-After")),
        )
    if status >= httpx.codes.INTERNAL_SERVER_ERROR:
        return _Attempt(EngineOverloadedError(detail), endpoint_at_fault=True)
    over, context = context_overflow(detail)
    if over:
        endpoint.context_tokens = context or endpoint.context_tokens
        return _Attempt(EngineContextError(detail), endpoint_at_fault=False, retryable=False)
    return _Attempt(EngineRequestError(detail), endpoint_at_fault=False, retryable=False)


def _error_detail(response: httpx.Response) -> str:
    try:
        message = response.json().get("error", {}).get("message")
    except (ValueError, AttributeError):
        message = None
    return str(message or response.text[:300] or response.reason_phrase)


def _retry_after_s(header: str | None) -> float | None:
    if header is None:
        return None
    try:
        return max(0.0, float(header))
    except ValueError:
        return None


def _json_body(endpoint: Endpoint, response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        raise EngineResponseError(
            f"{endpoint.base_url} answered 200 with a body that is not JSON"
        ) from None
    if not isinstance(data, dict):
        raise EngineResponseError(f"{endpoint.base_url} answered JSON that is not an object")
    return data


def _completion(data: dict[str, Any], latency_ms: float) -> Completion:
    try:
        choice = data["choices"][0]
        message = choice["message"]
        usage = Usage(
            int(data["usage"]["prompt_tokens"]), int(data["usage"]["completion_tokens"]), None
        )
    except (KeyError, IndexError, TypeError, ValueError) as error:
        raise EngineResponseError(f"the response is not a chat completion (no {error})") from None
    text = str(message.get("content") or "")
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if reasoning and "<think>" not in text:  # servers that split the reasoning out
        text = f"<think>\n{reasoning}\n</think>\n\n{text}"
    return Completion(text, choice.get("finish_reason"), usage, latency_ms)


def _video_data_url(clip: JpegClip) -> bytes:
    frames = b",".join(base64.b64encode(jpeg) for jpeg in clip.jpegs)
    return b"data:video/jpeg;base64," + frames


def _jpegs(clip: Clip) -> JpegClip:
    if not isinstance(clip, JpegClip):
        raise ClipError("the HTTP engine takes a JpegClip (build it with engine.clip)")
    return clip
