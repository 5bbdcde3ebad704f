"""Check answers written elsewhere (draft replies, another bot's answers) against the KB.

For each answer: which KB articles support it, which of its sentences no KB source supports, and whether the
articles it cites exist. Writes the same run folder and report as `kbqa eval`.
"""

from __future__ import annotations

import csv
import json
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.errors import EvalSetError
from rag.evaluation.run import EvalRun, latency_summary, support_row
from rag.index.keyword import ids_fingerprint, tokenize
from rag.ingest.chunking import chunk_body
from rag.text.sentences import split_units
from rag.verify.grounding import claim, strip_citations

if TYPE_CHECKING:
    from rag.pipeline import Pipeline

_LIST_SPLIT = re.compile(r"\s*[;,|]\s*")
_ALIASES = {
    "question": ("question", "query", "subject"),
    "answer": ("answer", "reply", "response", "text"),
    "expected": ("expected", "expected_ids", "source_ids", "article_ids"),
    "cited": ("cited", "citations", "sources", "cited_articles"),
    "id": ("id", "ticket", "ticket_id"),
}
SOURCES_PER_SENTENCE = 5  # KB chunks retrieved per query (sentence, question + sentence) before scoring


@dataclass
class AnswerItem:
    id: str
    question: str
    answer: str
    expected: list[str] = field(default_factory=list)
    cited: list[str] = field(default_factory=list)


def load_answers(path: Path) -> list[AnswerItem]:
    """CSV (header row) or JSONL with question and answer; optional id, expected and cited article lists."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalSetError(f"Cannot read answers file {path}: {exc}. Give a UTF-8 CSV or JSONL file.") from exc
    if path.suffix.lower() == ".csv":
        records = list(csv.DictReader(text.splitlines()))
    else:
        records = []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise EvalSetError(f"{path}:{number}: not JSON ({exc.msg}).") from exc
    items = [_item(record, number, path) for number, record in enumerate(records, 1)]
    if not items:
        raise EvalSetError(f"{path} holds no answers; each row needs a question and an answer.")
    return items


def _item(record: Any, number: int, path: Path) -> AnswerItem:
    if not isinstance(record, dict):
        raise EvalSetError(f"{path}: row {number} is not an object with question and answer fields.")
    lowered = {str(k).strip().lower(): v for k, v in record.items() if k is not None}

    def pick(name: str) -> Any:
        return next((lowered[a] for a in _ALIASES[name] if lowered.get(a) not in (None, "")), None)

    question, answer = pick("question"), pick("answer")
    if not isinstance(answer, str) or not answer.strip():
        raise EvalSetError(
            f"{path}: row {number} has no answer; columns found: {', '.join(lowered) or 'none'}. "
            "Name the columns question and answer (optional: id, expected, cited)."
        )
    return AnswerItem(
        id=str(pick("id") or number),
        question=str(question or ""),
        answer=answer,
        expected=_as_list(pick("expected")),
        cited=_as_list(pick("cited")),
    )


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [v for v in _LIST_SPLIT.split(str(value).strip()) if v]


class ArticleResolver:
    """Maps what an answer cites (article id, title, URL, file name) to indexed article ids."""

    def __init__(self, articles: Sequence[dict[str, Any]]) -> None:
        self.names: dict[str, str] = {}
        for a in articles:
            path = Path(a["source_path"])
            for name in (a["article_id"], a["title"], a.get("source_url", ""), path.name, path.stem):
                if name:
                    self.names.setdefault(_norm(name), a["article_id"])
        self.titles = {_norm(a["title"]): a["article_id"] for a in articles if len(a["title"]) >= 12}

    def resolve(self, reference: str) -> str | None:
        return self.names.get(_norm(reference))

    def mentioned(self, text: str) -> list[str]:
        """Articles an answer names in its text by full title or URL (how people cite in a reply)."""
        lowered = _norm(text)
        return [article for name, article in self.names.items() if name.startswith("http") and name in lowered] + [
            article for title, article in self.titles.items() if title in lowered
        ]


def _norm(text: str) -> str:
    return " ".join(text.lower().strip().strip("/").split())


def check_answers(
    pipeline: Pipeline, items: Sequence[AnswerItem], progress: Callable[[int, int], None] | None = None
) -> EvalRun:
    started = time.strftime("%Y-%m-%dT%H:%M:%S")
    resolver = ArticleResolver(pipeline.index.articles())
    pipeline.embeddings().embed_query("warm up")
    rows: list[dict[str, Any]] = []
    for done, item in enumerate(items, 1):
        rows.append(check_answer(pipeline, item, resolver))
        if progress:
            progress(done, len(items))
    ids = pipeline.index.view().read_all([])["ids"]  # paged: one whole read is slow over HTTP
    config = {
        "started": started,
        "settings": pipeline.settings.public(),
        "corpus_fingerprint": ids_fingerprint(ids),
        "chunks": len(ids),
        "answer_mode": "answers from a file",
        "kind": "answers",
    }
    return EvalRun(rows, summarize_answers(rows), config)


def check_answer(pipeline: Pipeline, item: AnswerItem, resolver: ArticleResolver) -> dict[str, Any]:
    started = time.perf_counter()
    # A bare "Yes."/"No." is a verdict, not a checkable claim: it is judged through the sentences after it.
    sentences = [strip_citations(u.text) for u in split_units(item.answer) if u.kind != "code"]
    sentences = [s for s in sentences if tokenize(claim(s))]
    checked = []
    for sentence in sentences:
        chunks = _candidates(pipeline, sentence, item.question)
        best, support = pipeline.grounding.best(sentence, [chunk_body(c) for c in chunks])
        meta = chunks[best].metadata if best >= 0 else {}
        checked.append(
            support_row(
                sentence,
                support,
                article_id=meta.get("article_id", ""),
                title=meta.get("title", ""),
                section=meta.get("section", ""),
                chunk_id=str(chunks[best].id) if best >= 0 else "",
            )
        )
    cited = [(ref, resolver.resolve(ref)) for ref in item.cited]
    cited_articles = sorted({a for _, a in cited if a} | set(resolver.mentioned(item.answer)))
    supporting = Counter(s["article_id"] for s in checked if s["supported"])
    row: dict[str, Any] = {
        "id": item.id,
        "question": item.question,
        "answer": item.answer,
        "expected": item.expected,
        "supporting_articles": [a for a, _ in supporting.most_common()],
        "cited_articles": cited_articles,
        "cited_missing": [ref for ref, a in cited if a is None],
        "citation_valid": all(a for _, a in cited) if cited else None,
        "cited_supporting": (len(set(cited_articles) & set(supporting)) / len(cited_articles))
        if cited_articles
        else None,
        "grounded": statistics.mean(s["supported"] for s in checked) if checked else None,
        "unsupported": [s["text"] for s in checked if not s["supported"]],
        "contradicted": [
            {"text": s["text"], "evidence": s["evidence"]} for s in checked if s["judgement"] == "contradicted"
        ],
        "sentences": checked,
        "expected_supported": float(bool(set(item.expected) & set(supporting))) if item.expected else None,
        "latency_ms": (time.perf_counter() - started) * 1e3,
    }
    return row


def _candidates(pipeline: Pipeline, sentence: str, question: str) -> list[Any]:
    """Chunks found for the sentence alone and with its question (the question resolves "it", "that")."""
    found = {str(c.id): c for c in pipeline.retriever.invoke(sentence, k=SOURCES_PER_SENTENCE)}
    if question:
        for c in pipeline.retriever.invoke(f"{question}\n{sentence}", k=SOURCES_PER_SENTENCE):
            found.setdefault(str(c.id), c)
    return list(found.values())


def summarize_answers(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    def mean(key: str) -> float | None:
        values = [float(r[key]) for r in rows if r.get(key) is not None]
        return round(statistics.mean(values), 4) if values else None

    graded = [r for r in rows if r["grounded"] is not None]
    return {
        "answers": len(rows),
        "sentences": sum(len(r["sentences"]) for r in rows),
        "unsupported_sentences": sum(len(r["unsupported"]) for r in rows),
        "contradicted_sentences": sum(len(r["contradicted"]) for r in rows),
        "grounded": mean("grounded"),
        "fully_grounded": round(sum(r["grounded"] == 1 for r in graded) / len(graded), 4) if graded else None,
        "citation_valid": mean("citation_valid"),
        "cited_supporting": mean("cited_supporting"),
        "expected_supported": mean("expected_supported"),
        **latency_summary(rows),
    }
