"""`kbqa verifier train`: make the pairs from a corpus, fine-tune the cross-encoder, export it.

Two kinds of pairs. *Written* pairs (rag/verify/data/written_pairs.jsonl, shipped): 1,876 claims about 268
passages of corpus/ and ../shared/corpora, written by hand-off helpers as a person answers (paraphrases, partial
quotes, summaries; negations, number, role, entity, cause and fix swaps, reworded too; unstated details),
the kind of synthetic data MiniCheck trains on. *Rule-made* pairs from the corpus being trained on
(rag/verify/claims.py), fewer per article than before: alone they taught the model that any rewording is a
contradiction (eval/README.md, *The answer verifier*).

Reproducible: fixed seed, the packaged all-MiniLM-L6-v2 as base, sentence-transformers' CrossEncoderTrainer on
the CPU, and every pair written beside the model (pairs.jsonl) with the recipe (recipe.json).
"""

from __future__ import annotations

import json
import random
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from rag.index.embeddings import resolve_model_path
from rag.ingest.loaders import discover, load_article
from rag.settings import BUNDLED_MODEL
from rag.text.sentences import split_units
from rag.verify.claims import LABELS, Pair, make_pairs
from rag.verify.verifier import export

BASE_MODEL = BUNDLED_MODEL  # the packaged all-MiniLM-L6-v2 weights
WRITTEN_PAIRS = Path(__file__).resolve().parent / "data" / "written_pairs.jsonl"


@dataclass(frozen=True)
class Recipe:
    """Everything a training run depends on besides the corpus; written to recipe.json beside the model."""

    seed: int = 13
    sentences_per_article: int = 2  # rule-made pairs: up to 2 sentences per article, each gives up to 3 pairs
    written_pairs: bool = True  # add rag/verify/data/written_pairs.jsonl
    epochs: int = 3  # 2 gave a model that flagged two thirds of the paraphrases (eval/README.md)
    batch_size: int = 16
    learning_rate: float = 4e-5
    warmup_ratio: float = 0.1
    max_length: int = 160  # tokens of passage + claim: the verifier reads one to three sentences
    contradiction_margin: float = 0.2  # P(contradicted) - P(supported) that counts, chosen on eval/grounding.jsonl


def written_pairs(path: Path = WRITTEN_PAIRS) -> list[Pair]:
    """The shipped hand-written pairs."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [Pair(r["passage"], r["claim"], r["label"], r["kind"], Path(r["page"]).stem) for r in rows]


def article_sentences(paths: Sequence[Path], max_bytes: int = 10_000_000) -> dict[str, list[str]]:
    """Each readable article's sentences and list items, in order (code blocks left out)."""
    out: dict[str, list[str]] = {}
    for path in discover(paths):
        try:
            article = load_article(path, max_bytes)
        except Exception:  # noqa: BLE001 - a file ingest would skip is skipped here too
            continue
        units = [u.text for u in split_units(article.page_content) if u.kind != "code"]
        out.setdefault(article.metadata["article_id"], []).extend(units)
    return out


def train(
    corpora: Sequence[Path],
    target: Path,
    recipe: Recipe = Recipe(),
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, object]:
    """Train and export a verifier into ``target``; returns what the run did (pairs, time)."""
    from datasets import Dataset
    from sentence_transformers.cross_encoder import (
        CrossEncoder,
        CrossEncoderTrainer,
        CrossEncoderTrainingArguments,
    )
    from sentence_transformers.cross_encoder.losses import CrossEntropyLoss

    started = time.perf_counter()
    progress("making pairs")
    pairs = make_pairs(article_sentences(corpora), recipe.seed, recipe.sentences_per_article)
    if recipe.written_pairs:
        pairs += written_pairs()
        random.Random(recipe.seed).shuffle(pairs)
    base = Path(resolve_model_path(BASE_MODEL))
    model = CrossEncoder(str(base), num_labels=len(LABELS), device="cpu", max_length=recipe.max_length)
    data = Dataset.from_dict(
        {
            "premise": [p.passage for p in pairs],
            "hypothesis": [p.claim for p in pairs],
            "label": [LABELS.index(p.label) for p in pairs],
        }
    )
    progress(f"training on {len(pairs):,} pairs")
    with tempfile.TemporaryDirectory() as scratch:
        args = CrossEncoderTrainingArguments(
            output_dir=scratch,
            num_train_epochs=recipe.epochs,
            per_device_train_batch_size=recipe.batch_size,
            learning_rate=recipe.learning_rate,
            warmup_steps=recipe.warmup_ratio,  # a float is a share of the steps (transformers 5)
            seed=recipe.seed,
            save_strategy="no",
            logging_steps=100,
            report_to="none",
            use_cpu=True,
            disable_tqdm=True,
        )
        CrossEncoderTrainer(model=model, args=args, train_dataset=data, loss=CrossEntropyLoss(model)).train()
    progress("exporting")
    export(model.model, base, target, LABELS, recipe.contradiction_margin)
    _write_pairs(target / "pairs.jsonl", pairs)
    report = {
        "pairs": len(pairs),
        "by_label": {label: sum(p.label == label for p in pairs) for label in LABELS},
        "corpora": [str(c) for c in corpora],
        "seconds": round(time.perf_counter() - started, 1),
        "recipe": asdict(recipe),
    }
    (target / "recipe.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    return report


def _write_pairs(path: Path, pairs: Sequence[Pair]) -> None:
    with path.open("w", encoding="utf-8") as out:
        for pair in pairs:
            out.write(json.dumps(asdict(pair), ensure_ascii=False) + "\n")
