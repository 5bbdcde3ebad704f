"""Evaluation: eval-set loading, scoring helpers, the gate, and the shipped eval set through the real pipeline."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rag.evaluation.run import (
    EvalRun,
    EvalSetError,
    evaluate,
    gate_failures,
    load_eval_set,
    parse_gate,
    token_f1,
)
from rag.verify.grounding import lexical_support

ROOT = Path(__file__).resolve().parents[2]

# Measured on eval/kb_eval.jsonl (see eval/README.md) minus a margin of about three questions, so noise
# does not fail CI but a real regression does.
GATE = parse_gate(
    "hit@1=0.88,hit@5=0.95,mrr=0.92,answered_rate=0.85,refused_rate=0.9,citation_valid=1.0,grounded=0.95,"
    "fact_share=0.48,citation_recall=0.85,malformed<=0,wrong_yes_no<=0"
)


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
    # Types are checked by a schema, naming the line and the field (issue 20): "no" is not read as true.
    for bad, field in ((good | {"answerable": "no"}, "answerable"), (good | {"question": 42}, "question")):
        path.write_text(json.dumps(bad) + "\n", encoding="utf-8")
        with pytest.raises(EvalSetError, match=rf"set\.jsonl:1: .*{field}"):
            load_eval_set(path)
    path.write_text(json.dumps(good | {"id": 7}) + "\n", encoding="utf-8")
    assert load_eval_set(path)[0].id == "7"  # a numeric id is an id (it used to crash the report at the end)


def test_scoring_helpers() -> None:
    """Token F1, sentence support and the gate behave on hand-checked inputs."""
    assert token_f1("kube-proxy is not a CNI plugin", "kube-proxy is not a CNI plugin") == 1.0
    assert token_f1("completely different", "kube-proxy") == 0.0
    assert lexical_support("kube-proxy is not a CNI plugin", "Note: kube-proxy is not a CNI plugin at all.") == 1.0
    assert lexical_support("kubenet retires in 2028", "Azure CNI assigns VNet IPs.") == 0.0
    assert parse_gate("hit@5=0.9, grounded=0.95,malformed<=0") == {
        "hit@5": (">=", 0.9),
        "grounded": (">=", 0.95),
        "malformed": ("<=", 0.0),
    }
    with pytest.raises(EvalSetError, match="metric=value"):
        parse_gate("hit@5")
    gate = parse_gate("hit@5=0.9,malformed<=0")
    assert gate_failures({"hit@5": 0.8, "malformed": 0.1}, gate) == ["hit@5 = 0.8 < 0.9", "malformed = 0.1 > 0.0"]
    assert gate_failures({"hit@5": 0.9, "malformed": 0.0}, gate) == []
    with pytest.raises(EvalSetError, match="Unknown metric"):
        gate_failures({"hit@5": 1.0}, parse_gate("hit@50=0.9"))


@pytest.mark.integration
def test_shipped_eval_set_passes_the_gate(kb: object, tmp_path: Path) -> None:
    """eval/kb_eval.jsonl through the real pipeline meets the measured thresholds; the run folder is written."""
    run = evaluate(kb, load_eval_set(ROOT / "eval" / "kb_eval.jsonl"))
    assert run.summary["errors"] == 0 and run.summary["questions"] == 86
    assert gate_failures(run.summary, GATE) == [], run.summary
    folder = run.write(tmp_path / "run")
    rows = [json.loads(line) for line in (folder / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 86 and {"retrieved_articles", "cited_articles", "unsupported", "sentences"} <= set(rows[0])
    checked = [s for r in rows for s in r["sentences"]]
    assert checked and {"supported", "score", "lexical", "semantic", "evidence", "chunk_id"} <= set(checked[0])
    config = json.loads((folder / "config.json").read_text())
    assert config["corpus_fingerprint"] and "auth" not in config["settings"]


def test_report_lists_failures_first_and_is_self_contained() -> None:
    """report.html has the metric chart, the histogram and failing questions before passing ones, offline."""
    from rag.evaluation.report import render_report

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


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rag.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.integration
def test_eval_answers_flags_unsupported_sentences_and_missing_citations(kb: object, tmp_path: Path) -> None:
    """`kbqa eval answers` on a CSV of draft replies: supporting articles, an invented claim, a dead citation."""
    answers = tmp_path / "replies.csv"
    with answers.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "question", "answer", "expected", "cited"])
        writer.writerow(
            [
                "r1",
                "Is kube-proxy a CNI plugin?",
                "No. kube-proxy isn't a CNI plugin; building the pod network is the CNI plugin's job.",
                "kube-proxy-vs-cni-plugin",
                "KB: Kube-proxy vs CNI Plugin",
            ]
        )
        writer.writerow(
            [
                "r2",
                "container app fails: no User Assigned or Delegated Managed Identity found for specified ClientId",
                "Assign the user-assigned identity whose client ID is in AZURE_CLIENT_ID to the container app. "
                "Then open port 9999 on the managed environment to let the identity endpoint through.",
                "aca-managed-identity-clientid-not-found",
                "kb-that-does-not-exist",
            ]
        )
    index = str(kb.settings.index_dir)  # type: ignore[attr-defined]
    result = _cli("--index-dir", index, "eval", "answers", str(answers), "--out", str(tmp_path / "run"), "--json")
    assert result.returncode == 0, result.stderr
    rows = {r["id"]: r for r in map(json.loads, (tmp_path / "run" / "results.jsonl").read_text().splitlines())}
    assert rows["r1"]["supporting_articles"][0] == "kube-proxy-vs-cni-plugin"
    assert rows["r1"]["cited_articles"] == ["kube-proxy-vs-cni-plugin"] and rows["r1"]["citation_valid"] is True
    assert rows["r1"]["unsupported"] == [] and rows["r1"]["expected_supported"] == 1.0
    assert rows["r2"]["cited_missing"] == ["kb-that-does-not-exist"] and rows["r2"]["citation_valid"] is False
    assert [s for s in rows["r2"]["unsupported"] if "9999" in s], rows["r2"]["sentences"]
    assert "aca-managed-identity-clientid-not-found" in rows["r2"]["supporting_articles"]
    summary = json.loads(result.stdout)
    assert summary["answers"] == 2 and summary["citation_valid"] == 0.5 and summary["grounded"] < 1
    page = (tmp_path / "run" / "report.html").read_text()
    assert "Answers (failures first)" in page and page.index("r2") < page.index("r1")

    gated = _cli(
        "--index-dir",
        index,
        "eval",
        "answers",
        str(answers),
        "--out",
        str(tmp_path / "r2"),
        "--fail-under",
        "grounded=0.99",
    )
    assert gated.returncode == 1 and "Gate failed: grounded" in gated.stderr
    (tmp_path / "bad.jsonl").write_text('{"question": "q", "reply_text": "x"}\n', encoding="utf-8")
    bad = _cli("--index-dir", index, "eval", "answers", str(tmp_path / "bad.jsonl"))
    assert bad.returncode == 2 and "has no answer" in bad.stderr and "reply_text" in bad.stderr


@pytest.mark.integration
def test_eval_compare_reports_deltas_settings_and_flips(kb: object, tmp_path: Path) -> None:
    """Two real runs differing in one setting, compared as Markdown; then a run over another corpus warns."""
    subset = tmp_path / "subset.jsonl"
    lines = (ROOT / "eval" / "kb_eval.jsonl").read_text().splitlines()
    subset.write_text("\n".join(lines[:8]) + "\n", encoding="utf-8")
    index = str(kb.settings.index_dir)  # type: ignore[attr-defined]
    for name, sentences in (("a", "4"), ("b", "1")):
        result = _cli(
            "--index-dir", index, "eval", str(subset), "--out", str(tmp_path / name),
            env={"KBQA_MAX_ANSWER_SENTENCES": sentences},
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
    result = _cli("eval", "compare", str(tmp_path / "a"), str(tmp_path / "b"))
    assert result.returncode == 0, result.stderr
    markdown = result.stdout
    assert "| metric | A | B | Δ |" in markdown and "| hit@1 |" in markdown and "| answer_chars |" in markdown
    assert "max_answer_sentences: 4 → 1" in markdown and "corpus differs" not in markdown
    assert "## Broke" in markdown and "## Fixed" in markdown

    config = json.loads((tmp_path / "b" / "config.json").read_text())
    rows = [json.loads(line) for line in (tmp_path / "b" / "results.jsonl").read_text().splitlines()]
    rows[0] = rows[0] | {"abstention_correct": not rows[0]["abstention_correct"]}
    EvalRun(
        rows, json.loads((tmp_path / "b" / "summary.json").read_text()), config | {"corpus_fingerprint": "other"}
    ).write(tmp_path / "c")
    flipped = _cli("eval", "compare", str(tmp_path / "b"), str(tmp_path / "c"), "-o", str(tmp_path / "diff.md"))
    assert flipped.returncode == 0, flipped.stderr
    markdown = (tmp_path / "diff.md").read_text()
    assert "corpus differs" in markdown and f"| {rows[0]['id']} |" in markdown
    missing = _cli("eval", "compare", str(tmp_path / "a"), str(tmp_path / "nope"))
    assert missing.returncode == 2 and "not a complete eval run folder" in missing.stderr
