"""Evaluation: eval-set loading, scoring helpers, the gate, and the shipped eval set through the real pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.evaluation import (
    EvalSetError,
    evaluate,
    gate_failures,
    load_eval_set,
    parse_gate,
    sentence_support,
    token_f1,
)

ROOT = Path(__file__).resolve().parent.parent

# Measured on eval/kb_eval.jsonl (see eval/README.md) minus a margin of about three questions, so noise
# does not fail CI but a real regression does.
GATE = {
    "hit@1": 0.88,
    "hit@5": 0.95,
    "mrr": 0.92,
    "answered_rate": 0.85,
    "refused_rate": 0.9,
    "citation_valid": 1.0,
    "grounded": 0.95,
    "must_include": 0.45,
    "citation_recall": 0.85,
}


def test_load_eval_set_reports_bad_lines(tmp_path: Path) -> None:
    """A malformed line or an answerable item without sources is reported with its line number."""
    good = {"id": "q1", "question": "Is kube-proxy a CNI plugin?", "answerable": True, "source_ids": ["kp"]}
    path = tmp_path / "set.jsonl"
    path.write_text(json.dumps(good) + "\n\n{broken\n", encoding="utf-8")
    with pytest.raises(EvalSetError, match=r"set\.jsonl:3"):
        load_eval_set(path)
    path.write_text(json.dumps(good | {"source_ids": []}) + "\n", encoding="utf-8")
    with pytest.raises(EvalSetError, match="no source_ids"):
        load_eval_set(path)
    path.write_text(json.dumps(good) + "\n", encoding="utf-8")
    assert load_eval_set(path)[0].source_ids == ["kp"]


def test_scoring_helpers() -> None:
    """Token F1, sentence support and the gate behave on hand-checked inputs."""
    assert token_f1("kube-proxy is not a CNI plugin", "kube-proxy is not a CNI plugin") == 1.0
    assert token_f1("completely different", "kube-proxy") == 0.0
    assert sentence_support("kube-proxy is not a CNI plugin", "Note: kube-proxy is not a CNI plugin at all.") == 1.0
    assert sentence_support("kubenet retires in 2028", "Azure CNI assigns VNet IPs.") == 0.0
    assert parse_gate("hit@5=0.9, grounded=0.95") == {"hit@5": 0.9, "grounded": 0.95}
    with pytest.raises(EvalSetError, match="metric=value"):
        parse_gate("hit@5")
    assert gate_failures({"hit@5": 0.8, "grounded": 1.0}, {"hit@5": 0.9}) == ["hit@5 = 0.8 < 0.9"]
    with pytest.raises(EvalSetError, match="Unknown metric"):
        gate_failures({"hit@5": 1.0}, {"hit@50": 0.9})


@pytest.mark.integration
def test_shipped_eval_set_passes_the_gate(kb: object, tmp_path: Path) -> None:
    """eval/kb_eval.jsonl through the real pipeline meets the measured thresholds; the run folder is written."""
    run = evaluate(kb, load_eval_set(ROOT / "eval" / "kb_eval.jsonl"))
    assert run.summary["errors"] == 0 and run.summary["questions"] == 86
    assert gate_failures(run.summary, GATE) == [], run.summary
    folder = run.write(tmp_path / "run")
    rows = [json.loads(line) for line in (folder / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 86 and {"retrieved_articles", "cited_articles", "unsupported"} <= set(rows[0])
    config = json.loads((folder / "config.json").read_text())
    assert config["corpus_fingerprint"] and "auth" not in config["settings"]


def test_report_lists_failures_first_and_is_self_contained() -> None:
    """report.html has the metric chart, the histogram and failing questions before passing ones, offline."""
    from rag.eval_report import render_report

    base = {
        "answerable": True,
        "verdict": "answered",
        "confidence": 0.9,
        "retrieved_articles": ["a"],
        "cited_articles": ["a"],
        "unsupported": [],
        "answer": "x [1]",
        "latency_ms": 20.0,
        "expected": ["a"],
    }
    rows = [
        base | {"id": "q-ok", "question": "fine", "abstention_correct": True, "hit@1": 1.0, "must_include": 1.0},
        base | {"id": "q-miss", "question": "missed", "abstention_correct": True, "hit@1": 0.0, "must_include": 0.0},
        {"id": "q-err", "question": "boom", "answerable": True, "error": "index gone"},
    ]
    page = render_report({"questions": 3, "hit@1": 0.5, "grounded": 1.0}, rows, {"corpus_fingerprint": "abc"})
    assert "<svg" in page and "latency histogram" in page
    assert page.index("q-err") < page.index("q-ok") and page.index("q-miss") < page.index("q-ok")
    assert "http://" not in page and "https://" not in page
