"""The numpy embedder against sentence-transformers (torch), the pipeline it restates."""

from __future__ import annotations

import base64
import importlib.metadata
import itertools
import math
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agent.archive.embedder import (
    BATCH_TOKENS,
    MODELS,
    Embedder,
    ModelFilesError,
    erf,
    length_batches,
    package_directory,
)
from tests.archive.conftest import MODEL

CAPTIONS = [
    "",
    "a",
    "A man in a red jacket walks his dog past the front gate.",
    "Two vans park; one driver unloads boxes -- fast!!! (9:41 pm) #dock-3 50% @cam2 ...",
    "一个人骑着自行车穿过街道",
    "Пешеход переходит дорогу возле склада",
    "سيارة بيضاء تتوقف عند البوابة",
    "Café crème, naïve façade — Straße ÜBER Ålesund",
    "🚲🚗 🐕",
    "  leading and   inner   spaces\tand\ttabs\n",
    # Longer than the model's 256 tokens: both sides truncate.
    " ".join(["a forklift stacks pallets near the loading dock while rain falls"] * 40),
]


@pytest.fixture(scope="module")
def sentence_transformer() -> Any:
    """The reference, from the same files, offline; torch is a test dependency only."""
    from sentence_transformers import SentenceTransformer

    directory = package_directory(MODELS[MODEL])
    return SentenceTransformer(str(directory), device="cpu", local_files_only=True)


def test_vectors_equal_sentence_transformers(embedder: Embedder, sentence_transformer: Any) -> None:
    ours = embedder.embed(CAPTIONS)
    reference = sentence_transformer.encode(
        CAPTIONS, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False
    )
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-5)
    assert np.all(np.sum(ours * reference, axis=1) > 1 - 1e-5)


def test_a_vector_does_not_depend_on_its_batch(embedder: Embedder) -> None:
    """Padding to a batch's longest text is masked out of attention and pooling."""
    together = embedder.embed(CAPTIONS)
    alone = np.concatenate([embedder.embed([caption]) for caption in CAPTIONS])
    np.testing.assert_allclose(together, alone, rtol=0, atol=1e-6)


def test_concurrent_calls_give_the_same_vectors(embedder: Embedder) -> None:
    expected = embedder.embed(CAPTIONS)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(embedder.embed, [CAPTIONS] * 4))
    for vectors in results:
        np.testing.assert_array_equal(vectors, expected)


def test_texts_are_batched_shortest_first_in_even_shares_for_the_workers() -> None:
    lengths = [12, 30, 18, 14, 20, 16, 25, 19, 13, 22]
    batches = length_batches(lengths, 2)
    assert len(batches) == 2
    order = list(itertools.chain.from_iterable(batches))
    assert sorted(order) == list(range(len(lengths)))
    assert [lengths[i] for i in order] == sorted(lengths)
    tokens = [sum(lengths[i] for i in batch) for batch in batches]
    assert abs(tokens[0] - tokens[1]) <= max(lengths)
    assert length_batches(lengths, 1) == [sorted(range(len(lengths)), key=lengths.__getitem__)]
    assert length_batches([], 2) == []


def test_a_batch_never_passes_its_padded_budget() -> None:
    """Attention pads a batch to its longest text: that bounds its scores' memory."""
    lengths = [8] * 300 + [256] * 20
    batches = length_batches(lengths, 2)
    assert all(len(batch) * max(lengths[i] for i in batch) <= BATCH_TOKENS for batch in batches)
    assert sorted(itertools.chain.from_iterable(batches)) == list(range(len(lengths)))


def test_erf_is_within_5e_7_of_the_exact_one() -> None:
    x = np.linspace(-6, 6, 120_001, dtype=np.float32)
    exact = np.array([math.erf(value) for value in x.tolist()])
    assert erf(x).dtype == np.float32
    assert np.max(np.abs(erf(x) - exact)) < 5e-7


def test_the_embedder_runs_without_torch() -> None:
    """No Vigil image holds torch: loading the model and embedding must not import it."""
    script = (
        "import sys\n"
        "sys.modules['torch'] = None  # `import torch` fails\n"
        "from agent.archive.embedder import Embedder\n"
        f"Embedder.load({MODEL!r}).embed(['a cyclist crosses the street'])\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True)


def test_texts_become_unit_float32_vectors(embedder: Embedder) -> None:
    vectors = embedder.embed(["a forklift moves pallets", "", "rain on an empty street"])
    assert vectors.shape == (3, embedder.dim) == (3, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.embed([]).shape == (0, 384)


def test_similar_captions_are_closer_than_unrelated_ones(embedder: Embedder) -> None:
    bike, cyclist, pallets = embedder.embed(
        [
            "a person rides a bicycle along the road",
            "a cyclist pedals down the street",
            "a forklift stacks pallets in the warehouse",
        ]
    )
    assert bike @ cyclist > bike @ pallets + 0.2


def test_an_unknown_model_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown embedding model 'bert-huge'"):
        Embedder.load("bert-huge")


def test_the_pinned_digests_are_the_installed_package_s() -> None:
    package = MODELS[MODEL]
    distribution, version = package.requirement.split("==")
    assert importlib.metadata.version(distribution) == version
    recorded = {
        str(file): file.hash.value
        for file in importlib.metadata.files(distribution) or []
        if file.hash is not None
    }
    for name, digest in package.sha256.items():
        urlsafe = base64.urlsafe_b64encode(bytes.fromhex(digest)).decode().rstrip("=")
        assert recorded[f"{package.package}/{package.directory}/{name}"] == urlsafe


def test_a_changed_weights_file_is_refused(tmp_path: Path) -> None:
    package = MODELS[MODEL]
    copy = Path(shutil.copytree(package_directory(package), tmp_path / "model"))
    with (copy / "model.safetensors").open("r+b") as weights:
        weights.seek(-1, 2)
        last = weights.read(1)
        weights.seek(-1, 2)
        weights.write(bytes([last[0] ^ 0xFF]))
    with pytest.raises(ModelFilesError, match=r"model\.safetensors has sha256 .* not the pinned"):
        Embedder.from_directory(copy, package)


def test_a_missing_model_file_is_refused(tmp_path: Path) -> None:
    package = MODELS[MODEL]
    copy = Path(shutil.copytree(package_directory(package), tmp_path / "model"))
    (copy / "vocab.txt").unlink()
    with pytest.raises(ModelFilesError, match=r"vocab\.txt is missing"):
        Embedder.from_directory(copy, package)
