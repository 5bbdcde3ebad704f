"""Measure retrieval and abstention on a question set, for several settings side by side.

Used to choose chunk size, fusion weights, per-article cap and the abstention thresholds; the
figures it printed are in eval/README.md. Runs on the real model and a real Chroma in a temp dir.

    python eval/calibrate.py                          # defaults, calibration set
    python eval/calibrate.py --sweep chunk_size=500,800,1000,1500
    python eval/calibrate.py --set eval/kb_eval.jsonl  # held-out check of the chosen thresholds
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from rag import Pipeline, load_settings
from rag.metrics import best_threshold, dedupe, hit_at, reciprocal_rank, roc_auc

ROOT = Path(__file__).resolve().parent.parent


def run(
    settings_overrides: dict[str, object], questions: list[dict], corpus: Path, index_dir: Path | None = None
) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        pipeline = Pipeline(load_settings(index_dir=index_dir or Path(tmp), **settings_overrides))
        pipeline.ingest([corpus])
        rows = []
        for q in questions:
            t = time.perf_counter()
            answer = pipeline.ask(q["question"])
            ms = (time.perf_counter() - t) * 1e3
            ranked = dedupe([r.article_id for r in answer.retrieved])
            rows.append((q, ranked, answer, ms))
    answerable = [(q, r, a) for q, r, a, _ in rows if q["answerable"]]
    conf_ans = [a.confidence for _, _, a in answerable]
    conf_un = [a.confidence for q, _, a, _ in rows if not q["answerable"]]
    cut, bal = best_threshold(conf_ans, conf_un)
    cited = [any(c.article_id in q["source_ids"] for c in a.citations) for q, _, a in answerable if not a.abstained]
    answered = [(q, a) for q, _, a in answerable if not a.abstained]
    first_ok = [bool(a.citations) and a.citations[0].article_id in q["source_ids"] for q, a in answered]
    must = [
        sum(m.lower() in a.text.lower() for m in q["must_include"]) / len(q["must_include"])
        for q, a in answered
        if q.get("must_include")
    ]
    return {
        "hit@1": statistics.mean(hit_at(r, set(q["source_ids"]), 1) for q, r, _ in answerable),
        "hit@3": statistics.mean(hit_at(r, set(q["source_ids"]), 3) for q, r, _ in answerable),
        "hit@5": statistics.mean(hit_at(r, set(q["source_ids"]), 5) for q, r, _ in answerable),
        "mrr": statistics.mean(reciprocal_rank(r, set(q["source_ids"])) for q, r, _ in answerable),
        "auc": roc_auc(conf_ans, conf_un),
        "best_cut": cut,
        "best_bal_acc": bal,
        # Above the highest-scoring unanswerable question, an answer needs no low-confidence notice.
        "max_unans": max(conf_un, default=0.0),
        "answered_ok": sum(not a.abstained for _, _, a in answerable) / len(answerable),
        "refused_ok": sum(a.abstained for q, _, a, _ in rows if not q["answerable"]) / max(len(conf_un), 1),
        "cites_source": statistics.mean(cited) if cited else 0.0,
        "first_cite_ok": statistics.mean(first_ok) if first_ok else 0.0,
        "must_include": statistics.mean(must) if must else 0.0,
        "answer_chars": statistics.mean(len(a.text) for _, a in answered) if answered else 0.0,
        "p50_ms": statistics.median(ms for *_, ms in rows),
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
    questions = [json.loads(line) for line in args.set.read_text(encoding="utf-8").splitlines() if line.strip()]
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
