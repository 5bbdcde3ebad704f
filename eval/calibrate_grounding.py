"""Measure the groundedness scorer on eval/grounding.jsonl: does it tell supported from unsupported sentences?

Each sentence is scored against the chunks of its article (the best one counts, as in `kbqa eval answers`).
Prints AUC and the best cut for each lexical weight, a held-out check (cut chosen on odd ids, applied to even
ids and back) and support rates per kind. The figures are in eval/README.md.

    python eval/calibrate_grounding.py                       # uses the index in .kbqa (run `kbqa ingest` first)
    python eval/calibrate_grounding.py --weights 0,0.3,0.5,0.7,1
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from rag import Pipeline, load_settings
from rag.evaluation.metrics import best_threshold, roc_auc
from rag.ingest.chunking import strip_context_line
from rag.verify.grounding import GroundednessScorer

ROOT = Path(__file__).resolve().parent.parent


def scores(pipeline: Pipeline, items: list[dict], lexical_weight: float) -> list[float]:
    """The scorer's score per item; 0 when a hard check failed (a missing fact, a flipped negation)."""
    scorer = GroundednessScorer(pipeline.embeddings(), threshold=0.0, lexical_weight=lexical_weight)
    out = []
    for item in items:
        got = pipeline.index.collection.get(where={"article_id": item["article_id"]}, include=["documents"])
        _, support = scorer.best(item["sentence"], [strip_context_line(d) for d in got["documents"]])
        out.append(support.score if support.supported or support.reason.startswith("weak support") else 0.0)
    return out


def balanced(items: list[dict], values: list[float], cut: float) -> tuple[float, float, float]:
    pos = [v for i, v in zip(items, values, strict=True) if i["label"] == "supported"]
    neg = [v for i, v in zip(items, values, strict=True) if i["label"] != "supported"]
    tpr = sum(v >= cut for v in pos) / len(pos)
    tnr = sum(v < cut for v in neg) / len(neg)
    return tpr, tnr, (tpr + tnr) / 2


def split(items: list[dict], values: list[float], odd: bool) -> tuple[list[dict], list[float]]:
    pairs = [(i, v) for n, (i, v) in enumerate(zip(items, values, strict=True)) if n % 2 == int(odd)]
    return [i for i, _ in pairs], [v for _, v in pairs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, default=ROOT / "eval" / "grounding.jsonl")
    parser.add_argument("--weights", default="0,0.5,1", help="Lexical weights to compare (0 = semantic only).")
    args = parser.parse_args()
    items = [json.loads(line) for line in args.set.read_text(encoding="utf-8").splitlines() if line.strip()]
    pipeline = Pipeline(load_settings())
    print(f"{len(items)} sentences, {sum(i['label'] == 'supported' for i in items)} supported")
    print("| lexical weight | AUC | best cut | TPR | TNR | held-out balanced acc. (odd→even, even→odd) |")
    print("|---:|---:|---:|---:|---:|---|")
    for weight in (float(w) for w in args.weights.split(",")):
        values = scores(pipeline, items, weight)
        pos = [v for i, v in zip(items, values, strict=True) if i["label"] == "supported"]
        neg = [v for i, v in zip(items, values, strict=True) if i["label"] != "supported"]
        cut, _ = best_threshold(pos, neg)
        tpr, tnr, _ = balanced(items, values, cut)
        held = []
        for odd in (True, False):
            train_items, train = split(items, values, odd)
            test_items, test = split(items, values, not odd)
            tr_pos = [v for i, v in zip(train_items, train, strict=True) if i["label"] == "supported"]
            tr_neg = [v for i, v in zip(train_items, train, strict=True) if i["label"] != "supported"]
            held.append(balanced(test_items, test, best_threshold(tr_pos, tr_neg)[0])[2])
        print(
            f"| {weight} | {roc_auc(pos, neg):.3f} | {cut:.3f} | {tpr:.3f} | {tnr:.3f} | {held[0]:.3f}, {held[1]:.3f} |"
        )
    threshold = pipeline.settings.support_threshold
    values = scores(pipeline, items, 0.5)
    by_kind: dict[str, list[bool]] = defaultdict(list)
    for item, value in zip(items, values, strict=True):
        by_kind[item["kind"]].append(value >= threshold)
    print(f"\nCounted as supported at the shipped threshold {threshold} (lexical weight 0.5):")
    for kind, flags in sorted(by_kind.items()):
        print(f"  {kind:<20} {sum(flags)}/{len(flags)}")


if __name__ == "__main__":
    main()
