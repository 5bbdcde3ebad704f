"""Measure retrieval and abstention on a question set, for several settings side by side.

Used to choose chunk size, fusion weights, per-article cap and the abstention thresholds; the
figures it printed are in eval/README.md. Runs on the real model and a real Chroma in a temp dir.

    python eval/calibrate.py                          # defaults, calibration set
    python eval/calibrate.py --sweep chunk_size=500,800,1000,1500
    python eval/calibrate.py --set eval/kb_eval.jsonl  # held-out check of the chosen thresholds
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from rag import Pipeline, load_settings
from rag.evaluation.metrics import best_threshold, hit_at, roc_auc
from rag.evaluation.run import EvalItem, evaluate, load_eval_set

ROOT = Path(__file__).resolve().parent.parent


def run(
    settings_overrides: dict[str, object], questions: list[EvalItem], corpus: Path, index_dir: Path | None = None
) -> dict[str, float]:
    """`kbqa eval`'s metrics for one setting, plus the abstention figures a threshold is chosen from."""
    with tempfile.TemporaryDirectory() as tmp:
        pipeline = Pipeline(load_settings(index_dir=index_dir or Path(tmp), **settings_overrides))
        pipeline.ingest([corpus])
        result = evaluate(pipeline, questions)
    rows = [r for r in result.rows if "error" not in r]
    summary = result.summary
    conf_ans = [r["confidence"] for r in rows if r["answerable"]]
    conf_un = [r["confidence"] for r in rows if not r["answerable"]]
    cut, bal = best_threshold(conf_ans, conf_un)
    answered = [r for r in rows if r["answerable"] and r["verdict"] != "abstained"]
    k = pipeline.settings.top_k
    return {
        "hit@1": summary["hit@1"],
        "hit@3": statistics.mean(
            hit_at(r["retrieved_articles"], set(r["expected"]), 3) for r in rows if r["answerable"]
        ),
        f"hit@{k}": summary[f"hit@{k}"],
        "mrr": summary["mrr"],
        "auc": roc_auc(conf_ans, conf_un),
        "best_cut": cut,
        "best_bal_acc": bal,
        # Above the highest-scoring unanswerable question, an answer needs no low-confidence notice.
        "max_unans": max(conf_un, default=0.0),
        "answered_ok": summary["answered_rate"],
        "refused_ok": summary["refused_rate"],
        "cites_source": statistics.mean(bool(set(r["cited_articles"]) & set(r["expected"])) for r in answered),
        "first_cite_ok": statistics.mean(r["first_cited"] in r["expected"] for r in answered),
        "must_include": summary["must_include"] or 0.0,
        "grounded": summary["grounded"] or 0.0,
        "answer_chars": summary["answer_chars"] or 0.0,
        "p50_ms": summary["latency_p50_ms"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", type=Path, default=ROOT / "eval" / "calibration.jsonl")
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    parser.add_argument("--sweep", action="append", default=[], help="name=v1,v2,... (repeatable: grid)")
    parser.add_argument("--set-option", action="append", default=[], help="name=value applied to every run")
    parser.add_argument(
        "--index-dir", type=Path, help="keep the index here between runs (only for sweeps that do not change chunking)"
    )
    args = parser.parse_args()
    questions = load_eval_set(args.set)
    base = dict(_parse(o) for o in args.set_option)
    grid: list[dict[str, object]] = [base]
    for spec in args.sweep:
        name, values = spec.split("=", 1)
        grid = [g | {name: _value(v)} for g in grid for v in values.split(",")]
    print(f"{len(questions)} questions from {args.set.name}; corpus {args.corpus}")
    header = None
    for overrides in grid:
        result = run(overrides, questions, args.corpus, args.index_dir)
        if header is None:
            header = ["settings", *result]
            print("| " + " | ".join(header) + " |")
            print("|" + "---|" * len(header))
        label = ", ".join(f"{k}={v}" for k, v in overrides.items()) or "defaults"
        print(f"| {label} | " + " | ".join(f"{v:.3f}" for v in result.values()) + " |", flush=True)


def _parse(option: str) -> tuple[str, object]:
    name, value = option.split("=", 1)
    return name, _value(value)


def _value(text: str) -> object:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


if __name__ == "__main__":
    main()
