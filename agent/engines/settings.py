"""Typed settings of the reasoning engine (``engine:`` in vigil.yaml, ``VIGIL_ENGINE__*``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

DEFAULT_MODEL = "nvidia/Cosmos-Reason1-7B"


class EngineSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["vllm", "openai"] = Field(
        default="vllm", description="vllm: in-process AsyncLLM; openai: HTTP to servers."
    )
    model: str = Field(default=DEFAULT_MODEL, description="Hugging Face id or local path.")
    served_model_name: str | None = Field(
        default=None, description="Model name sent to the servers (default: model)."
    )
    base_urls: list[str] = Field(
        default_factory=lambda: ["http://127.0.0.1:8000/v1"],
        min_length=1,
        description="OpenAI-compatible endpoints, one per GPU or tensor-parallel group.",
    )
    api_key: SecretStr | None = None
    max_concurrency: Annotated[int, Field(ge=1, description="Requests in flight.")] = 64
    request_timeout_s: Annotated[float, Field(gt=0)] = 120.0
    connect_timeout_s: Annotated[float, Field(gt=0)] = 5.0
    max_retries: Annotated[int, Field(ge=0)] = 3
    backoff_initial_s: Annotated[float, Field(gt=0)] = 0.5
    backoff_cap_s: Annotated[float, Field(gt=0)] = 8.0
    unhealthy_for_s: Annotated[
        float, Field(gt=0, description="How long a failing URL is skipped before a recheck.")
    ] = 10.0
    send_media_io_kwargs: bool = Field(
        default=True,
        description="Send the clip's fps per request (server needs --trust-request-mm-kwargs).",
    )
    jpeg_quality: Annotated[int, Field(ge=30, le=100)] = 90
    max_model_len: Annotated[
        int,
        Field(
            ge=512,
            description="The model's context in tokens: the in-process engine's; over HTTP "
            "used only until the servers report theirs (max_model_len in /v1/models).",
        ),
    ] = 16384
    tokenizer: str | None = Field(
        default=None,
        description="HTTP: a local directory with the served model's tokenizer.json, to "
        "measure prompts exactly; unset, prompts are bounded by their UTF-8 bytes.",
    )
    gpu_memory_utilization: Annotated[float, Field(gt=0, le=1)] = 0.9
    dtype: str = "bfloat16"
    tensor_parallel_size: Annotated[int, Field(ge=1)] = 1
    enforce_eager: bool = False
    verdict_temperature: Annotated[float, Field(ge=0)] = 0.0
    reasoning_temperature: Annotated[float, Field(ge=0)] = 0.6
    reasoning_top_p: Annotated[float, Field(gt=0, le=1)] = 0.95
    reasoning_repetition_penalty: Annotated[float, Field(gt=0)] = 1.05
    reasoning_max_tokens: Annotated[int, Field(ge=1)] = 4096
    seed: int | None = Field(
        default=None,
        description="Engine-wide sampling seed (in-process engine). Never sent per request: "
        "vLLM's CPU build crashes on per-request seeds.",
    )

    @property
    def request_model(self) -> str:
        return self.served_model_name or self.model
