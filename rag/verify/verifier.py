"""The answer verifier: does a passage support a claim, contradict it, or not say?

A cross-encoder (all-MiniLM-L6-v2 with a three-way head) trained here on pairs made from the KB itself
(rag/verify/claims.py, `kbqa verifier train`), exported to ONNX with int8 weights and run by ONNX Runtime, like the
embedding model (rag/index/onnx.py says why not sentence-transformers' ONNX backend). It is
experimental and off by default: trained on rule-made pairs it does not yet tell a paraphrase from a
contradiction (eval/README.md, *The answer verifier*), so no model ships with kbqa yet.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import EmbeddingModelError
from rag.verify.claims import CONTRADICTED, LABELS, SUPPORTED

_MAX_TOKENS = 256


@dataclass(frozen=True)
class Judgement:
    label: str  # supported, contradicted or not_enough_info
    supported: float  # probabilities
    contradicted: float
    passage: str  # the passage that decided it


class Verifier:
    def __init__(self, model_dir: Path) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        if not (model_dir / "model.onnx").is_file():
            raise EmbeddingModelError(
                f"No verifier model in {model_dir}. Train one with `kbqa verifier train --out {model_dir}`, "
                "point KBQA_VERIFIER_MODEL at one, or unset KBQA_VERIFIER."
            )
        config = json.loads((model_dir / "verifier.json").read_text(encoding="utf-8"))
        self.labels: list[str] = config["labels"]
        self.contradiction_margin: float = config.get("contradiction_margin", 0.2)
        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.enable_truncation(_MAX_TOKENS)
        self._tokenizer.no_padding()
        options = ort.SessionOptions()
        options.intra_op_num_threads = 0
        self._session = ort.InferenceSession(str(model_dir / "model.onnx"), options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._lock = threading.Lock()

    def probabilities(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """(passage, claim) pairs → one row of label probabilities each, in ``self.labels`` order."""
        rows = []
        for passage, claim in pairs:  # one pair per run, no padding: faster on CPU than padded batches
            encoded = self._tokenizer.encode(passage, claim)
            ids = np.asarray([encoded.ids], dtype=np.int64)
            feed = {
                "input_ids": ids,
                "attention_mask": np.ones_like(ids),
                "token_type_ids": np.asarray([encoded.type_ids], dtype=np.int64),
            }
            with self._lock:
                logits = self._session.run(None, {k: v for k, v in feed.items() if k in self._inputs})[0][0]
            exp = np.exp(logits - logits.max())
            rows.append(exp / exp.sum())
        return np.asarray(rows).reshape(len(rows), len(self.labels))

    def judge(self, claim: str, passages: Sequence[str]) -> Judgement:
        """The verdict on ``claim`` from the passage of ``passages`` (the closest few) it relates to most: the
        one where the model sees most support or contradiction rather than nothing said. Contradicted when
        there P(contradicted) exceeds P(supported) by the model's margin. Taking the strongest contradiction over
        all passages instead flagged most paraphrases (eval/README.md, *The answer verifier*)."""
        if not passages:
            return Judgement("not_enough_info", 0.0, 0.0, "")
        probs = self.probabilities([(p, claim) for p in passages])
        support, contra = probs[:, self.labels.index(SUPPORTED)], probs[:, self.labels.index(CONTRADICTED)]
        i = int((support + contra).argmax())
        if contra[i] - support[i] >= self.contradiction_margin:
            label = CONTRADICTED
        elif support[i] >= max(contra[i], 1 - support[i] - contra[i]):
            label = SUPPORTED
        else:
            label = LABELS[2]
        return Judgement(label, float(support[i]), float(contra[i]), passages[i])


def windows(sentences: Sequence[str], size: int = 3) -> list[str]:
    """Overlapping passages of ``size`` sentences: the unit the verifier was trained on (rag/verify/claims.py)."""
    if len(sentences) <= size:
        return [" ".join(sentences)] if sentences else []
    return [" ".join(sentences[i : i + size]) for i in range(len(sentences) - size + 1)]


def load_verifier(model_dir: Path) -> Verifier:
    return Verifier(model_dir)


def export(model: Any, tokenizer_dir: Path, target: Path, labels: Sequence[str], margin: float) -> None:
    """Write a trained sequence-classification model as ONNX int8 plus its tokenizer and labels into ``target``."""
    import os
    import shutil
    import warnings

    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    class _Classifier(torch.nn.Module):
        """Keyword-only call, as in rag/index/onnx.py."""

        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).logits

    target.mkdir(parents=True, exist_ok=True)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    fp32 = target / "model-fp32.onnx"
    example = tuple(torch.ones((1, 8), dtype=torch.long) for _ in names)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Classifier(model.eval()),
            example,
            str(fp32),
            input_names=names,
            output_names=["logits"],
            dynamic_axes={n: {0: "batch", 1: "tokens"} for n in names} | {"logits": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
    quantize_dynamic(fp32, target / "model.onnx", weight_type=QuantType.QInt8, per_channel=True)
    os.remove(fp32)
    shutil.copy(tokenizer_dir / "tokenizer.json", target / "tokenizer.json")
    (target / "verifier.json").write_text(
        json.dumps({"labels": list(labels), "contradiction_margin": margin}, indent=2), encoding="utf-8"
    )
