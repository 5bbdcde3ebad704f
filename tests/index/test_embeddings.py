"""Embedding backends: the ONNX export from the packaged model against sentence-transformers on torch."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from rag import Pipeline, load_settings
from rag.errors import EmbeddingModelError, IndexMismatchError
from rag.index.embeddings import load_embeddings, resolve_model_path
from rag.index.onnx import OnnxEmbeddings
from rag.settings import BUNDLED_MODEL

pytestmark = pytest.mark.integration
TEXTS = [
    "Is kube-proxy a CNI plugin?",
    "Failed to pull image: 401 Unauthorized",
    "The container fails to start: no User Assigned or Delegated Managed Identity found for specified ClientId. "
    * 20,  # longer than the model's 256-token window: truncated the same way
    "é",
]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def torch_vectors() -> np.ndarray:
    return np.asarray(load_embeddings(BUNDLED_MODEL, "torch").embed_documents(TEXTS))


@pytest.mark.parametrize(("precision", "floor"), [("fp32", 0.9999), ("int8", 0.98)])
def test_onnx_export_matches_sentence_transformers(
    exported: Path, torch_vectors: np.ndarray, precision: str, floor: float
) -> None:
    model = OnnxEmbeddings(Path(resolve_model_path(BUNDLED_MODEL)), exported, precision)  # type: ignore[arg-type]
    vectors = np.asarray(model.embed_documents(TEXTS))
    assert vectors.shape == torch_vectors.shape
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cosines = (vectors * torch_vectors).sum(axis=1)
    assert cosines.min() >= floor, cosines
    assert np.allclose(model.embed_query(TEXTS[0]), vectors[0], atol=1e-6)


def test_export_is_cached_and_reused(exported: Path) -> None:
    folder = Path(resolve_model_path(BUNDLED_MODEL))
    first = OnnxEmbeddings(folder, exported, "int8").path
    stamp = first.stat().st_mtime_ns
    again = OnnxEmbeddings(folder, exported, "int8").path
    assert again == first and again.stat().st_mtime_ns == stamp
    assert not list(exported.rglob("*.tmp"))


def test_concurrent_first_requests_load_the_model_once(tmp_path: Path) -> None:
    got: list[object] = []
    settings = load_settings(index_dir=tmp_path, model_cache_dir=tmp_path / "models")
    threads = [threading.Thread(target=lambda: got.append(Pipeline(settings).embeddings())) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 8 and all(m is got[0] for m in got)
    assert len(list((tmp_path / "models").rglob("model-int8.onnx"))) == 1


def test_a_model_that_is_not_a_local_folder_needs_the_torch_backend(tmp_path: Path) -> None:
    with pytest.raises(EmbeddingModelError, match="KBQA_EMBEDDING_BACKEND=torch"):
        load_embeddings("some-org/not-downloaded", "onnx-int8", tmp_path)


def test_switching_backend_on_an_existing_index_asks_for_a_rebuild(kb: Pipeline) -> None:
    other = "torch" if kb.settings.embedding_backend != "torch" else "onnx-int8"
    pipeline = Pipeline(kb.settings.model_copy(update={"embedding_backend": other}))
    with pytest.raises(IndexMismatchError, match=r"kbqa ingest --rebuild.*KBQA_EMBEDDING_BACKEND="):
        pipeline.ask("Is kube-proxy a CNI plugin?")
