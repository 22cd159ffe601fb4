"""A tiny random-weight Qwen2.5-VL model directory: the real architecture, meaningless text.

It exists so the real vLLM engine can run Vigil end to end on machines without a GPU
(tests, CI, demos on a laptop). Its answers are noise; anything that loads it must say
so loudly. It has the shapes that matter to Vigil: Qwen2.5-VL's processor, 14-px
patches merged 2x2, temporal patch 2, so a clip costs exactly the tokens the real model
would charge. vLLM's CPU attention kernels need head_dim 64, hence 2 heads of 64.

The build is deterministic (fixed corpus, fixed seed) and cached: a directory that
already holds a finished build of the same recipe is reused as is.
"""

from __future__ import annotations

import importlib
import json
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

RECIPE_VERSION = "qwen2.5-vl-tiny-1"
MARKER_FILE = "vigil-test-model.json"
SERVED_NAME = "vigil-tiny-qwen2.5-vl"
SEED = 20250101
BPE_VOCAB_SIZE = 1024

SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
)

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content or 'video_url' in content %}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}"
    "{% endfor %}<|im_end|>\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

_CORPUS_LINES = (
    "You are a helpful assistant watching a security camera.",
    "Answer the question in the following format: <think>\nyour reasoning\n</think>",
    "<answer>\nyour answer\n</answer>.",
    '{"verdicts": [{"id": "q1", "detected": true, "confidence": 0.85,',
    '"evidence_start_s": 1.25, "evidence_end_s": 3.50, "description": "a person"}]}',
    "The clip starts at 2025-01-01T12:00:00Z and was sampled at 4 frames per second.",
    "Is there a person near the loading dock? Is a vehicle blocking the fire lane?",
    "0 1 2 3 4 5 6 7 8 9 0.00s 0.25s 0.50s 0.75s true false null , : [ ] { }",
    "the a an of to in is was it that with for on as by at from car truck forklift",
    "smoke fire spill fall crowd door gate queue traffic bicycle pedestrian worker",
)

logger = logging.getLogger(__name__)


def build_test_model(cache_dir: Path) -> Path:
    """The model directory under ``cache_dir``, built once (a few seconds) and reused."""
    target = cache_dir / RECIPE_VERSION
    if _is_complete(target):
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".building-", dir=cache_dir))
    try:
        _write_model(staging)
        (staging / MARKER_FILE).write_text(json.dumps({"recipe": RECIPE_VERSION}))
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.warning("built the TINY RANDOM-WEIGHT TEST MODEL at %s: its answers are noise", target)
    return target


def is_test_model(model: str) -> bool:
    """True for a directory built here: whoever loads it must announce it."""
    return (Path(model) / MARKER_FILE).is_file()


def _is_complete(directory: Path) -> bool:
    marker = directory / MARKER_FILE
    if not marker.is_file():
        return False
    return bool(json.loads(marker.read_text()).get("recipe") == RECIPE_VERSION)


def _write_model(directory: Path) -> None:
    tokenizer = _tokenizer()
    _save_processor(directory, tokenizer)
    _save_weights(directory, tokenizer)


def _tokenizer() -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=BPE_VOCAB_SIZE,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(list(_CORPUS_LINES) * 4, trainer=trainer)
    return _transformers().PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        eos_token="<|im_end|>",  # noqa: S106 (a token, not a password)
        pad_token="<|endoftext|>",  # noqa: S106
        model_max_length=32768,
        chat_template=CHAT_TEMPLATE,
    )


def _save_processor(directory: Path, tokenizer: Any) -> None:
    hf = _transformers()
    processor = hf.Qwen2_5_VLProcessor(
        image_processor=hf.Qwen2VLImageProcessor(),
        video_processor=hf.Qwen2VLVideoProcessor(),
        tokenizer=tokenizer,
        chat_template=CHAT_TEMPLATE,
    )
    processor.save_pretrained(str(directory))


def _save_weights(directory: Path, tokenizer: Any) -> None:
    import torch

    hf = _transformers()
    vocab = tokenizer.get_vocab()
    config = hf.Qwen2_5_VLConfig(
        text_config=_text_config(len(vocab), vocab),
        vision_config=_vision_config(),
        image_token_id=vocab["<|image_pad|>"],
        video_token_id=vocab["<|video_pad|>"],
        vision_start_token_id=vocab["<|vision_start|>"],
        vision_end_token_id=vocab["<|vision_end|>"],
        bos_token_id=vocab["<|endoftext|>"],
        eos_token_id=vocab["<|im_end|>"],
        pad_token_id=vocab["<|endoftext|>"],
    )
    torch.manual_seed(SEED)
    model = hf.Qwen2_5_VLForConditionalGeneration(config).to(torch.bfloat16)
    model.generation_config.eos_token_id = vocab["<|im_end|>"]
    model.save_pretrained(str(directory))


def _text_config(vocab_size: int, vocab: dict[str, int]) -> dict[str, object]:
    return {
        "vocab_size": (vocab_size + 63) // 64 * 64,
        "hidden_size": 128,
        "intermediate_size": 256,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
        "max_position_embeddings": 32768,
        "rope_scaling": {"type": "mrope", "mrope_section": [8, 12, 12]},
        "bos_token_id": vocab["<|endoftext|>"],
        "eos_token_id": vocab["<|im_end|>"],
        "pad_token_id": vocab["<|endoftext|>"],
    }


def _vision_config() -> dict[str, object]:
    return {
        "depth": 2,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_heads": 2,
        "out_hidden_size": 128,
        "patch_size": 14,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
        "window_size": 112,
        "fullatt_block_indexes": [1],
        "tokens_per_second": 2,
    }


def _transformers() -> Any:
    """transformers, untyped here: its model classes are not typed strictly."""
    return importlib.import_module("transformers")
