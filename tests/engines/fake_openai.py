"""A real local HTTP server that answers like an OpenAI-compatible one, or fails on cue."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from agent.eval.loopback import LoopbackServer, Request
from agent.eval.loopback import Reply as Served


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


def chat_completion(content: str) -> Reply:
    body = {
        "id": "chatcmpl-1", "object": "chat.completion", "model": "fake",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 2400, "completion_tokens": 40, "total_tokens": 2440},
    }  # fmt: skip
    return Reply(200, json.dumps(body).encode(), {"Content-Type": "application/json"})


class FakeOpenAI(LoopbackServer):
    """Serves scripted replies in order; after the script, ``default`` forever."""

    def __init__(self, default: Reply, script: list[Reply] | None = None) -> None:
        super().__init__()
        self.default = default
        self.script = deque(script or [])
        self.requests: list[tuple[str, dict[str, str], bytes]] = []  # header names lower case
        self.models: list[dict[str, object]] = []  # what GET /v1/models lists
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"{self.origin}/v1"

    @property
    def completions(self) -> list[bytes]:
        return [body for path, _, body in self.requests if path.endswith("/chat/completions")]

    def answer(self, request: Request) -> Served:
        reply = self._next(request)
        time.sleep(reply.delay_s)
        return Served(reply.status, reply.body, reply.headers)

    def _next(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append((request.path, request.headers, request.body))
            if request.path.endswith("/models"):
                return Reply(200, json.dumps({"object": "list", "data": self.models}).encode())
            return self.script.popleft() if self.script else self.default
