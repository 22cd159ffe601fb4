"""The pixel engine's decision behind an OpenAI-compatible HTTP server on loopback.

It answers what ``agent.engines.openai_http.OpenAIHttpEngine`` asks: ``GET /v1/models``
(health) and ``POST /v1/chat/completions`` with the clip as a ``data:video/jpeg;base64,…``
URL. Each JPEG is decoded; the fps comes from ``media_io_kwargs`` / ``mm_processor_kwargs``
or else from the prompt text; a verdict request (``response_format`` json_schema) takes
its question ids from the schema and their texts from the prompt's ``- id: text`` lines;
a request without one is a reasoning request. So the real HTTP engine, its request
building and its answer parsing are what the eval exercises.

For fault tests (``vigil bench soak``) the server can be made to misbehave: ``fault``
(or ``POST /control/fault`` with ``{"fault": …}``) is ``"503"`` (every completion is
refused), ``"timeout"`` (answers after ``FAULT_DELAY_S``), ``"garbage"`` (a 200 whose body
is not JSON) or None (normal).
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from agent.engines.clips import Frames
from agent.engines.prompts import CAPTION_KEY, Question
from agent.eval.loopback import LoopbackServer, Reply, Request
from agent.eval.pixel_engine import (
    reasoning_text,
    records_reasoning_text,
    usage_for,
    verdict_text,
)

MODEL = "vigil-pixel-engine"
DATA_URL_PREFIX = "data:video/jpeg;base64,"
_FPS_IN_TEXT = re.compile(r"sampled at ([0-9.]+) frames per second")
FAULTS = ("503", "timeout", "garbage")
FAULT_DELAY_S = 30.0  # longer than a soak's engine request timeout


class RequestError(ValueError):
    """The request is not a chat completion this server understands (answered 400)."""


@dataclass(frozen=True, slots=True)
class ChatRequest:
    frames: Frames | None  # RGB, strip included; None: a question over records
    fps: float
    text: str  # the prompt text after the video
    questions: list[Question] | None  # None: a reasoning request

    @property
    def question(self) -> str:
        """A reasoning request's question: the text after the clip's preamble."""
        return self.text.split("\n\n", 1)[-1]


def read_request(body: bytes) -> ChatRequest:
    try:
        document = json.loads(body)
        content = document["messages"][-1]["content"]
        urls = [part["video_url"]["url"] for part in content if part["type"] == "video_url"]
        text = next(part["text"] for part in content if part["type"] == "text")
    except (ValueError, KeyError, TypeError, IndexError, StopIteration) as error:
        raise RequestError(f"not a chat completion with a text ({error})") from None
    if not urls:
        return ChatRequest(None, 0.0, text, None)
    return ChatRequest(_frames(urls[0]), _fps(document, text), text, _questions(document, text))


def answer_text(request: ChatRequest) -> str:
    if request.frames is None:
        return records_reasoning_text(request.text)
    if request.questions is None:
        return reasoning_text(request.frames, request.fps, request.question)
    return verdict_text(request.frames, request.fps, request.questions)


def _frames(url: str) -> Frames:
    if not url.startswith(DATA_URL_PREFIX):
        raise RequestError("the video is not a data:video/jpeg;base64 URL")
    frames = []
    for number, encoded in enumerate(url.removeprefix(DATA_URL_PREFIX).split(",")):
        try:
            raw = np.frombuffer(base64.b64decode(encoded, validate=True), dtype=np.uint8)
        except binascii.Error:
            raise RequestError(f"frame {number} is not base64") from None
        frame = cv2.imdecode(raw, cv2.IMREAD_COLOR_RGB)
        if frame is None:
            raise RequestError(f"frame {number} is not a JPEG")
        frames.append(frame)
    if len({frame.shape for frame in frames}) != 1:
        raise RequestError("the frames differ in size")
    return np.stack(frames)


def _fps(document: dict[str, Any], text: str) -> float:
    candidates = (
        document.get("media_io_kwargs", {}).get("video", {}).get("fps"),
        document.get("mm_processor_kwargs", {}).get("fps"),
    )
    for value in candidates:
        if isinstance(value, int | float) and value > 0:
            return float(value)
    found = _FPS_IN_TEXT.search(text)
    if found is None:
        raise RequestError("no fps in the request or its text")
    return float(found.group(1))


def _questions(document: dict[str, Any], text: str) -> list[Question] | None:
    response_format = document.get("response_format")
    if response_format is None:
        return None
    try:
        ids = response_format["json_schema"]["schema"]["required"]
    except (KeyError, TypeError):
        raise RequestError("response_format has no json_schema with required ids") from None
    questions = []
    for question_id in ids:
        if question_id == CAPTION_KEY:
            continue
        line = re.search(rf"^- {re.escape(question_id)}: (.+)$", text, re.MULTILINE)
        if line is None:
            raise RequestError(f"question {question_id} is not listed in the text")
        questions.append(Question(question_id, line.group(1)))
    return questions


class PixelServer(LoopbackServer):
    """``base_url`` is what ``engine.base_urls`` takes; counts the calls of each kind."""

    def __init__(self) -> None:
        super().__init__()
        self.verdict_calls = 0
        self.reason_calls = 0
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.fault: str | None = None  # one of FAULTS, or None: answers as it should
        self._stopping = threading.Event()

    @property
    def base_url(self) -> str:
        return f"{self.origin}/v1"

    def stop(self) -> None:
        self._stopping.set()  # ends the delays of the timeout fault
        super().stop()

    def answer(self, request: Request) -> Reply:
        if request.method == "POST" and request.path == "/control/fault":
            return self._set_fault(request.body)
        if self.fault is not None and request.path == "/v1/chat/completions":
            return self._faulty()
        if request.method == "GET" and request.path == "/v1/models":
            return _json(200, {"object": "list", "data": [{"id": MODEL, "object": "model"}]})
        if request.method != "POST" or request.path != "/v1/chat/completions":
            return _json(404, {"error": {"message": f"no route {request.method} {request.path}"}})
        try:
            chat = read_request(request.body)
        except RequestError as error:
            return _json(400, {"error": {"message": str(error)}})
        self._count(chat)
        return _json(200, self._completion(chat, answer_text(chat)))

    def _set_fault(self, body: bytes) -> Reply:
        try:
            fault = json.loads(body)["fault"]
        except (ValueError, KeyError, TypeError):
            return _json(400, {"error": {"message": 'expected {"fault": …}'}})
        if fault is not None and fault not in FAULTS:
            return _json(400, {"error": {"message": f"fault must be one of {FAULTS} or null"}})
        self.fault = fault
        return _json(200, {"fault": fault})

    def _faulty(self) -> Reply:
        fault = self.fault
        if fault == "timeout":
            self._stopping.wait(FAULT_DELAY_S)
        if fault == "garbage":
            return Reply(200, b"\x00<html>not a completion")
        return _json(503, {"error": {"message": f"fault injected: {fault}"}})

    def _count(self, chat: ChatRequest) -> None:
        with self._lock:
            if chat.questions is None:
                self.reason_calls += 1
            else:
                self.verdict_calls += 1

    def _completion(self, chat: ChatRequest, text: str) -> dict[str, Any]:
        count, height, width = chat.frames.shape[:3] if chat.frames is not None else (0, 0, 0)
        usage = usage_for(count, height, width, text)
        return {
            "id": f"chatcmpl-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": MODEL,
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": text},
                }
            ],
            "usage": {
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
                "total_tokens": usage.prompt_tokens + usage.completion_tokens,
            },
        }


def _json(status: int, document: dict[str, Any]) -> Reply:
    return Reply(status, json.dumps(document).encode())
