"""The embedding model on ONNX Runtime, exported offline from the local sentence-transformers folder.

Written here because sentence-transformers' own ONNX backend needs optimum-onnx, whose only release
(0.1.0) requires transformers < 4.58 while sentence-transformers 6 requires transformers 5; it cannot
be installed beside it. ONNX Runtime itself is already installed (chromadb depends on it).

The export (torch -> ONNX, then int8 dynamic quantisation with per-channel weights) runs once per model
and is cached; after that a process needs neither torch nor sentence-transformers to embed, which also
cuts start-up time. Figures that chose int8 as the default are in docs/PERFORMANCE.md.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import numpy as np
from langchain_core.embeddings import Embeddings

from rag.errors import EmbeddingModelError

Precision = Literal["fp32", "int8"]
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def exported_model(model_dir: Path, cache_dir: Path, precision: Precision) -> Path:
    """The ONNX file for ``model_dir`` at ``precision``, exporting it into ``cache_dir`` on first use."""
    target = cache_dir / f"{model_dir.name}-{_folder_digest(model_dir)}" / f"model-{precision}.onnx"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fp32 = target.with_name("model-fp32.onnx")
    if not fp32.is_file():
        _export(model_dir, fp32)
    if precision == "int8":
        from onnxruntime.quantization import QuantType, quantize_dynamic

        # Per-channel weights: per-tensor int8 moved vectors to cosine 0.95 of torch's, per-channel to 0.995.
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        with _quiet_root_logger():  # it logs a generic "consider pre-processing" warning through the root logger
            quantize_dynamic(fp32, tmp, weight_type=QuantType.QInt8, per_channel=True)
        os.replace(tmp, target)  # atomic: a concurrent process sees the whole file or none
    return target


@contextmanager
def _quiet_root_logger() -> Iterator[None]:
    """Root-logger output of a third-party call kept off the console: its level and any handlers it adds are
    put back afterwards (ONNX Runtime's quantizer calls ``logging.warning``, which configures the root logger
    and makes every library's DEBUG lines appear)."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)
        root.handlers[:] = handlers


def _export(model_dir: Path, target: Path) -> None:
    try:
        import torch
        from transformers import AutoModel
    except ImportError as exc:  # pragma: no cover - torch comes with sentence-transformers
        raise EmbeddingModelError(f"Exporting to ONNX needs torch and transformers: {exc}.") from exc

    class _Encoder(torch.nn.Module):
        """Keyword-only call: transformers 5 reordered BertModel.forward's positional parameters."""

        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return out.last_hidden_state

    model = AutoModel.from_pretrained(str(model_dir)).eval()
    example = tuple(torch.ones((1, 8), dtype=torch.long) for _ in _INPUTS)
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Encoder(model),
            example,
            str(tmp),
            input_names=list(_INPUTS),
            output_names=["last_hidden_state"],
            dynamic_axes={name: {0: "batch", 1: "tokens"} for name in (*_INPUTS, "last_hidden_state")},
            opset_version=17,
            dynamo=False,  # the dynamo exporter needs onnxscript; the TorchScript one needs only onnx
        )
    os.replace(tmp, target)


def _folder_digest(model_dir: Path) -> str:
    """Names the cache entry after the weights, so a changed model is exported again."""
    digest = hashlib.sha256()
    for path in sorted(model_dir.glob("*")):
        if path.is_file():
            stat = path.stat()
            digest.update(f"{path.name}:{stat.st_size}:{int(stat.st_mtime)}".encode())
    return digest.hexdigest()[:12]


class OnnxEmbeddings(Embeddings):
    """Mean- or CLS-pooled, normalised sentence embeddings from an exported model, as sentence-transformers does."""

    def __init__(self, model_dir: Path, cache_dir: Path, precision: Precision = "int8", threads: int = 0) -> None:
        from tokenizers import Tokenizer

        config = _read_json(model_dir / "sentence_bert_config.json")
        pooling = _read_json(model_dir / "1_Pooling" / "config.json")
        if pooling.get("pooling_mode_cls_token"):
            self._pooling = "cls"
        elif pooling.get("pooling_mode_mean_tokens", True):
            self._pooling = "mean"
        else:
            raise EmbeddingModelError(
                f"The ONNX backend supports mean and CLS pooling; {model_dir} uses another. "
                "Set KBQA_EMBEDDING_BACKEND=torch."
            )
        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(int(config.get("max_seq_length", 256)))
        path = exported_model(model_dir, cache_dir, precision)
        # Documents: one single-threaded run per text on every core at once (measured 60 chunks/s on two
        # cores, vs 46 for one run at a time on both cores, and 48 for padded batches of 8).
        # Queries: one run on all cores, for the lowest latency of a single text.
        self._workers = threads or os.cpu_count() or 1
        self._bulk = _session(path, threads=1)
        self._single = _session(path, threads=threads)
        self._inputs = {i.name for i in self._single.get_inputs()}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(self._workers)  # kept: starting threads per call cost ~5 ms a question
        self.path = path

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if len(texts) < 2 or self._workers == 1:
            return [self.embed_query(t) for t in texts]
        # ONNX Runtime releases the GIL while it runs
        return list(self._pool.map(lambda t: self._embed(self._bulk, t), texts))

    def embed_query(self, text: str) -> list[float]:
        with self._lock:  # concurrent requests queue here rather than oversubscribe the cores
            return self._embed(self._single, text)

    def _embed(self, session: Any, text: str) -> list[float]:
        # One text per run, no padding: measured faster on CPU than padded batches.
        ids = np.asarray([self._tokenizer.encode(text).ids], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
        hidden = session.run(None, {k: v for k, v in feed.items() if k in self._inputs})[0][0]
        vector = hidden[0] if self._pooling == "cls" else hidden.mean(axis=0)
        return (vector / max(float(np.linalg.norm(vector)), 1e-12)).tolist()


def _session(path: Path, threads: int) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise EmbeddingModelError(f"Cannot read {path}: {exc}. Reinstall the model package.") from exc
