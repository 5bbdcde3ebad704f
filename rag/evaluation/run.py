"""Batch evaluation of the pipeline on an eval set (eval/README.md format), offline and without an LLM.

Scores retrieval by article id, correctness against the reference, citations, groundedness of each answer
sentence in the chunk it cites, abstention and latency; writes a run folder a person or CI can read.
"""

from __future__ import annotations

import json
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from rag.answer.form import form_flags
from rag.errors import EvalSetError, KbqaError
from rag.evaluation.metrics import dedupe, hit_at, ndcg_at, recall_at, reciprocal_rank
from rag.evaluation.report import render_report
from rag.index.keyword import ids_fingerprint, tokenize
from rag.ingest.chunking import strip_context_line
from rag.triage.triage import triage
from rag.types import Answer
from rag.verify.grounding import CONTRADICTED, GroundednessScorer, Support, claim

if TYPE_CHECKING:
    from rag.pipeline import Pipeline
    from rag.types import AnswerMode, Triage

_WORD = re.compile(r"\w+")


@dataclass
class EvalItem:
    id: str
    answerable: bool
    question: str = ""
    ticket: str = ""  # a triage item: the pasted ticket or log, run through `Pipeline.triage`
    source_ids: list[str] = field(default_factory=list)
    reference_answer: str = ""
    must_include: list[str] = field(default_factory=list)
    type: str = ""
    tags: list[str] = field(default_factory=list)
    expected_verdict: str = ""  # yes/no questions: "yes" or "no", what the source article states


class _EvalLine(BaseModel):
    """The schema of one eval-set line: types are checked ("answerable": "no" is refused, not read as true)."""

    model_config = ConfigDict(strict=True, extra="ignore")

    id: str
    answerable: bool
    question: str = ""
    ticket: str = ""
    source_ids: list[str] = []
    reference_answer: str = ""
    must_include: list[str] = []
    type: str = ""
    tags: list[str] = []
    expected_verdict: Literal["", "yes", "no"] = ""

    @field_validator("id", mode="before")
    @classmethod
    def _numbers_are_ids_too(cls, value: object) -> object:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def load_eval_set(path: Path) -> list[EvalItem]:
    """Read a JSONL eval set; a bad line is reported with its number and what is wrong."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise EvalSetError(f"Cannot read eval set {path}: {exc.strerror or exc}.") from exc
    items: list[EvalItem] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = EvalItem(**_EvalLine.model_validate(json.loads(line)).model_dump())
        except json.JSONDecodeError as exc:
            raise EvalSetError(f"{path}:{number}: not JSON ({exc}); write one JSON object per line.") from exc
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'line'}: {e['msg']}" for e in exc.errors())
            raise EvalSetError(
                f"{path}:{number}: not a valid eval item ({problems}); each line needs at least "
                '"id", "answerable" (true or false) and a "question" (or a "ticket") (see eval/README.md).'
            ) from exc
        if not (item.question or item.ticket).strip():
            raise EvalSetError(f"{path}:{number}: item '{item.id}' has neither a question nor a ticket.")
        if item.answerable and not item.source_ids:
            raise EvalSetError(f"{path}:{number}: answerable item '{item.id}' has no source_ids.")
        items.append(item)
    if not items:
        raise EvalSetError(f"{path} holds no eval items.")
    return items


def token_f1(prediction: str, reference: str) -> float:
    pred = Counter(w.lower() for w in _WORD.findall(prediction))
    ref = Counter(w.lower() for w in _WORD.findall(reference))
    common = sum((pred & ref).values())
    if not common:
        return 0.0
    precision, recall = common / sum(pred.values()), common / sum(ref.values())
    return 2 * precision * recall / (precision + recall)


def support_row(sentence: str, support: Support, **where: Any) -> dict[str, Any]:
    """One answer sentence in results.jsonl: how well its source supports it, and why not."""
    return {
        "text": sentence,
        **where,
        "supported": support.supported,
        "score": support.score,
        "lexical": support.lexical,
        "semantic": support.semantic,
        **({"nli": support.nli} if support.nli is not None else {}),
        "reason": support.reason,
        "evidence": support.evidence,
        # What a reader needs first: the source says it, says the opposite (see evidence), or does not say it.
        "judgement": "supported"
        if support.supported
        else "contradicted"
        if support.reason == CONTRADICTED
        else "not in the KB",
    }


def score_item(
    item: EvalItem, answer: Answer, chunk_texts: dict[str, str], k: int, scorer: GroundednessScorer
) -> dict[str, Any]:
    ranked = dedupe([r.article_id for r in answer.retrieved])
    relevant = set(item.source_ids)
    retrieved_ids = {r.chunk_id for r in answer.retrieved}
    cited_articles = {c.article_id for c in answer.citations}
    by_number = {c.n: c for c in answer.citations}
    claims = [s for s in answer.sentences if s.kind != "code" and tokenize(claim(s.text))]
    cited = [(s.text, by_number[s.citation]) for s in claims if s.citation in by_number]
    checks = scorer.check_many([t for t, _ in cited], [chunk_texts.get(c.chunk_id, "") for _, c in cited])
    sentences = [
        support_row(text, support, citation=c.n, article_id=c.article_id, chunk_id=c.chunk_id)
        for (text, c), support in zip(cited, checks, strict=True)
    ] + [  # a generated sentence left without a citation: no source supports it
        support_row(s.text, Support(False, s.support, 0.0, 0.0, "", s.support_reason or "cites no source"))
        for s in claims
        if s.citation not in by_number
    ]
    row: dict[str, Any] = {
        "id": item.id,
        "question": item.question,
        "answerable": item.answerable,
        "expected": item.source_ids,
        "verdict": answer.verdict,
        "mode": answer.mode,
        "confidence": answer.confidence,
        "answer": answer.text,
        "retrieved_articles": ranked,
        "cited_articles": sorted(cited_articles),
        "first_cited": answer.citations[0].article_id if answer.citations else None,
        "abstention_correct": answer.abstained != item.answerable,
        "citation_valid": all(c.chunk_id in retrieved_ids and c.chunk_id in chunk_texts for c in answer.citations),
        "grounded": statistics.mean(s["supported"] for s in sentences) if sentences else None,
        "unsupported": [s["text"] for s in sentences if not s["supported"]],
        "contradicted": sum(s["judgement"] == "contradicted" for s in sentences),
        "sentences": sentences,
        "latency_ms": answer.timings.get("total_ms", 0.0),
        "answer_chars": len(answer.text),
        "type": item.type,
        "form_flags": form_flags(answer.text) if not answer.abstained else [],
    }
    given = _VERDICT_GIVEN.match(answer.text)
    if item.expected_verdict:
        row["yes_no_given"] = given.group(1).lower() if given else None
        row["wrong_yes_no"] = given is not None and given.group(1).lower() != item.expected_verdict.lower()
    if item.answerable:
        answered = not answer.abstained
        text = answer.text.lower()
        top = chunk_texts.get(answer.retrieved[0].chunk_id, "").lower() if answer.retrieved else ""
        row |= {
            "hit@1": hit_at(ranked, relevant, 1),
            f"hit@{k}": hit_at(ranked, relevant, k),
            f"recall@{k}": recall_at(ranked, relevant, k),
            "mrr": reciprocal_rank(ranked, relevant),
            f"ndcg@{k}": ndcg_at(ranked, relevant, k),
            "fact_share": _share_found(item.must_include, text) if answered else 0.0,
            "must_include": float(all(m.lower() in text for m in item.must_include) and answered)
            if item.must_include
            else None,
            "context_fact_share": _share_found(item.must_include, top),
            "token_f1": token_f1(answer.text, item.reference_answer) if answered and item.reference_answer else 0.0,
            "citation_recall": len(relevant & cited_articles) / len(relevant),
        }
    return row


_VERDICT_GIVEN = re.compile(r"^(Yes|No)\.")


def _share_found(facts: list[str], text: str) -> float | None:
    """The share of an item's must_include facts that ``text`` (lower-cased) holds."""
    return sum(f.lower() in text for f in facts) / len(facts) if facts else None


_TRIAGE_AS_VERDICT = {"known_issue": "answered", "possible_match": "low_confidence", "no_known_issue": "abstained"}


def score_triage(item: EvalItem, result: Triage, k: int) -> dict[str, Any]:
    """A triage item: is the known issue (then the matching articles, in order) the expected article?"""
    first = [result.known_issue.article_id] if result.known_issue else []
    ranked = dedupe(first + [m.article_id for m in result.matches])
    relevant = set(item.source_ids)
    verdict = _TRIAGE_AS_VERDICT[result.verdict]
    row: dict[str, Any] = {
        "id": item.id,
        "question": item.ticket.strip().splitlines()[0][:200] if item.ticket.strip() else "",
        "ticket_chars": len(item.ticket),
        "answerable": item.answerable,
        "expected": item.source_ids,
        "verdict": verdict,
        "triage_verdict": result.verdict,
        "mode": "triage",
        "confidence": result.confidence,
        "answer": result.reply,
        "query": result.query,
        "signals": result.signals.terms(),
        "retrieved_articles": ranked,
        "cited_articles": sorted({c.article_id for c in result.citations}),
        "first_cited": result.known_issue.article_id if result.known_issue else None,
        "abstention_correct": (verdict == "abstained") != item.answerable,
        "unsupported": [],  # every triage item is quoted from the article it cites
        "sentences": [],
        "latency_ms": result.timings.get("total_ms", 0.0),
        "answer_chars": len(result.reply),
    }
    if item.answerable:
        row |= {
            "hit@1": hit_at(ranked, relevant, 1),
            "hit@3": hit_at(ranked, relevant, 3),
            f"hit@{k}": hit_at(ranked, relevant, k),
            "mrr": reciprocal_rank(ranked, relevant),
            "known_issue_correct": bool(first) and first[0] in relevant,
            "citation_recall": len(relevant & set(row["cited_articles"])) / len(relevant),
        }
    return row


def summarize(rows: Sequence[dict[str, Any]], k: int) -> dict[str, Any]:
    def mean(key: str, subset: Sequence[dict[str, Any]]) -> float | None:
        values = [r[key] for r in subset if r.get(key) is not None]
        return round(statistics.mean(values), 4) if values else None

    answerable = [r for r in rows if r["answerable"] and "error" not in r]
    unanswerable = [r for r in rows if not r["answerable"] and "error" not in r]
    ok = [r for r in rows if "error" not in r]
    answered = [r for r in ok if r["verdict"] != "abstained"]
    summary: dict[str, Any] = {
        "questions": len(rows),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "errors": len(rows) - len(ok),
    }
    keys = [
        "hit@1",
        f"hit@{k}",
        f"recall@{k}",
        "mrr",
        f"ndcg@{k}",
        "must_include",
        "fact_share",
        "context_fact_share",
        "token_f1",
        "citation_recall",
    ]
    if any(r.get("mode") == "triage" for r in ok):
        keys[1:1] = ["hit@3", "known_issue_correct"]
    for key in keys:
        summary[key] = mean(key, answerable)
    summary |= {
        "citation_valid": mean("citation_valid", answered),
        "grounded": mean("grounded", answered),
        "contradicted": sum(r.get("contradicted", 0) for r in answered),
        "answered_rate": round(sum(r["verdict"] != "abstained" for r in answerable) / max(len(answerable), 1), 4),
        "refused_rate": round(sum(r["verdict"] == "abstained" for r in unanswerable) / max(len(unanswerable), 1), 4),
        **latency_summary(ok),
        "answer_chars": mean("answer_chars", answered),
    }
    formed = [r for r in answered if "form_flags" in r]
    yes_no = [r for r in ok if "wrong_yes_no" in r]
    summary |= {
        "malformed": round(sum(bool(r["form_flags"]) for r in formed) / len(formed), 4) if formed else None,
        "yes_no_given": sum(r["yes_no_given"] is not None for r in yes_no),
        "wrong_yes_no": sum(r["wrong_yes_no"] for r in yes_no),
    }
    by_type = {
        t: [r for r in answerable if r.get("type") == t] for t in sorted({r.get("type") or "" for r in answerable})
    }
    if len(by_type) > 1:
        summary["by_type"] = {
            t or "untyped": {"n": len(rs), **{m: mean(m, rs) for m in ("hit@1", "mrr", "fact_share")}}
            | {"answered_rate": round(sum(r["verdict"] != "abstained" for r in rs) / len(rs), 4)}
            for t, rs in by_type.items()
        }
    generated = [r for r in answered if r.get("mode", "extractive") not in ("extractive", "triage")]
    if generated:  # LLM mode: how often the generated answer was kept rather than replaced by the extractive one
        summary["llm_kept_rate"] = round(sum(r["mode"] == "llm" for r in generated) / len(generated), 4)
    return summary


def latency_summary(rows: Sequence[dict[str, Any]]) -> dict[str, float]:
    latencies = sorted(r["latency_ms"] for r in rows if "latency_ms" in r) or [0.0]
    return {
        "latency_p50_ms": round(statistics.median(latencies), 2),
        "latency_p95_ms": round(latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))], 2),
    }


@dataclass
class EvalRun:
    rows: list[dict[str, Any]]
    summary: dict[str, Any]
    config: dict[str, Any]

    def write(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / "results.jsonl").open("w", encoding="utf-8") as out:
            for row in self.rows:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
        (folder / "summary.json").write_text(json.dumps(self.summary, indent=2), encoding="utf-8")
        (folder / "config.json").write_text(json.dumps(self.config, indent=2, default=str), encoding="utf-8")
        (folder / "report.html").write_text(render_report(self.summary, self.rows, self.config), encoding="utf-8")
        return folder


def evaluate(
    pipeline: Pipeline,
    items: Sequence[EvalItem],
    progress: Callable[[int, int], None] | None = None,
    mode: AnswerMode | None = None,
) -> EvalRun:
    """Run every question through ``pipeline.ask`` (a ticket through triage) and score it; one failing
    item does not stop the run."""
    mode = mode or pipeline.settings.answer_mode
    started = time.strftime("%Y-%m-%dT%H:%M:%S")
    k = pipeline.settings.top_k
    got = pipeline.index.view().read_all(["documents"])  # paged: one whole read is slow over HTTP
    chunk_texts = {i: strip_context_line(d) for i, d in zip(got["ids"], got["documents"], strict=True)}
    pipeline.embeddings().embed_query("warm up")  # latencies are for a warm process, not the model load
    pipeline.index.keyword()
    rows: list[dict[str, Any]] = []
    for done, item in enumerate(items, 1):
        try:
            if item.ticket:
                rows.append(score_triage(item, triage(pipeline, item.ticket), k))
            else:
                answer = pipeline.ask(item.question, mode=mode)
                rows.append(score_item(item, answer, chunk_texts, k, pipeline.grounding))
        except KbqaError as exc:
            rows.append({"id": item.id, "question": item.question, "answerable": item.answerable, "error": str(exc)})
        if progress:
            progress(done, len(items))
    config = {
        "started": started,
        "settings": pipeline.settings.public(),
        "corpus_fingerprint": ids_fingerprint(list(chunk_texts)),
        "chunks": len(chunk_texts),
        "answer_mode": mode,
        "llm": {k: v for k, v in pipeline.settings.public().items() if k.startswith("llm_")} if mode == "llm" else None,
        "kind": "questions",
    }
    return EvalRun(rows, summarize(rows, k), config)


def parse_gate(spec: str) -> dict[str, tuple[str, float]]:
    """``hit@5=0.9,malformed<=0`` → {"hit@5": (">=", 0.9), "malformed": ("<=", 0.0)}."""
    gate: dict[str, tuple[str, float]] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, sep, value = part.partition("=")
        try:
            bound = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise EvalSetError(
                f"Cannot read '{part}' in --fail-under; write metric=value (a minimum) or metric<=value (a maximum), "
                "e.g. hit@5=0.9,malformed<=0."
            )
        gate[name.strip().removesuffix("<").strip()] = ("<=" if name.strip().endswith("<") else ">=", bound)
    return gate


def check_gate(gate: dict[str, tuple[str, float]], metrics: dict[str, Any]) -> None:
    """Fail before a long run, not after it, when the gate names a metric the run does not produce."""
    unknown = [name for name in gate if name not in metrics]
    if unknown:
        raise EvalSetError(f"Unknown metric '{unknown[0]}' in --fail-under; known: {', '.join(metrics)}.")


def gate_failures(summary: dict[str, Any], gate: dict[str, tuple[str, float]]) -> list[str]:
    check_gate(gate, summary)
    failures = []
    for name, (op, bound) in gate.items():
        value = summary[name]
        if value is None or (value < bound if op == ">=" else value > bound):
            failures.append(f"{name} = {value} {'<' if op == '>=' else '>'} {bound}")
    return failures
