"""Counting a prompt's tokens: exactly with the model's tokenizer, else a safe upper bound.

Qwen2.5-VL (and so Cosmos-Reason1) tokenizes with byte-level BPE after NFC
normalisation (no byte fallback, no unknown token): every token stands for one or more
bytes of the normalised UTF-8 text (an added token such as ``<|im_end|>`` for all of its
bytes), so a text never has more tokens than the UTF-8 bytes it is tokenized from.
``ByteBound`` counts the larger of the text's bytes and its NFC form's (NFC can lengthen
a text: U+0958 is 3 bytes, its NFC form 6; or shorten it, for a tokenizer that does not
normalise, like the test model's): it never lets a prompt through that the model would
refuse, at the price of counting more tokens than there are (1.44 bytes a token for
history prompts with the test model's 1,024-token vocabulary; more with Qwen's 151k).
"""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Any, Protocol

from agent.engines.prompts import Prompt

# Qwen's ChatML turn markers; the in-process engine renders the model's own template.
_TURN = "<|im_start|>{role}\n{content}<|im_end|>\n"
_VIDEO_SLOT = "<|vision_start|><|video_pad|><|vision_end|>"
_ANSWER_START = "<|im_start|>assistant\n"


class TokenCounter(Protocol):
    @property
    def exact(self) -> bool:
        """True when counts are the model's tokenizer's; False for an upper bound."""
        ...

    def count(self, text: str) -> int:
        """Tokens of ``text``, or an upper bound of them."""
        ...

    def count_prompt(self, prompt: Prompt, video: bool) -> int:
        """Tokens of the whole chat-templated prompt, the video's one placeholder
        included (not its vision tokens)."""
        ...


def chatml(prompt: Prompt, video: bool) -> str:
    """The prompt as Qwen's chat template renders it, ready for the answer."""
    user = f"{_VIDEO_SLOT if video else ''}{prompt.text}"
    system = _TURN.format(role="system", content=prompt.system)
    return f"{system}{_TURN.format(role='user', content=user)}{_ANSWER_START}"


class ByteBound:
    """UTF-8 bytes of the text or of its NFC form, the larger: never fewer than
    byte-level BPE tokens."""

    exact = False

    def count(self, text: str) -> int:
        raw = len(text.encode())
        if text.isascii():
            return raw
        return max(raw, len(unicodedata.normalize("NFC", text).encode()))

    def count_prompt(self, prompt: Prompt, video: bool) -> int:
        return self.count(chatml(prompt, video))


class TokenizerFile:
    """A ``tokenizer.json`` of the served model (the ``tokenizers`` package), prompts
    rendered in Qwen's ChatML template: exact for the Qwen2.5-VL family."""

    exact = True

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer

    @classmethod
    def load(cls, directory: str) -> TokenizerFile:
        from tokenizers import Tokenizer

        return cls(Tokenizer.from_file(str(Path(directory) / "tokenizer.json")))

    def count(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def count_prompt(self, prompt: Prompt, video: bool) -> int:
        return self.count(chatml(prompt, video))


class ChatTokenizer:
    """The engine's own Hugging Face tokenizer and chat template (in-process engine)."""

    exact = True

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer

    def count(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=False))

    def count_prompt(self, prompt: Prompt, video: bool) -> int:
        return self.count(self.render(prompt, video))

    def render(self, prompt: Prompt, video: bool) -> str:
        content: list[dict[str, str]] = [{"type": "text", "text": prompt.text}]
        if video:
            content.insert(0, {"type": "video"})
        messages = [
            {"role": "system", "content": prompt.system},
            {"role": "user", "content": content},
        ]
        text: str = self._tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True
        )
        return text
