"""The one result object every front end shows: the CLI, the web chat, the API and the eval."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any, Literal, TypedDict

from rag.triage.signals import Signals

AnswerMode = Literal["extractive", "llm"]  # the KBQA_ANSWER_MODE values; here so the CLI needs no pydantic
Verdict = Literal["answered", "low_confidence", "abstained"]
SCHEMA_VERSION = 1


@dataclass
class Citation:
    """A source the answer cites as ``[n]``: one chunk of one article."""

    n: int
    chunk_id: str
    article_id: str
    title: str
    section: str
    source_path: str
    source_url: str
    updated: str
    score: float
    dense_score: float
    snippet: str
    stale: bool = False  # `updated` is older than the stale_after_days setting: the article may be outdated
    source: str = ""  # the synced source it came from (kbqa.toml [[sources]]), empty for ingested files

    @property
    def where(self) -> str:
        """Where a reader finds the article, wherever a citation is shown: its web address if it has a safe one,
        else its file path (relative when under the working folder)."""
        return safe_url(self.source_url) or display_path(self.source_path)


@dataclass
class AnswerSentence:
    text: str
    citation: int  # 0: cites nothing (a generated sentence no source supports)
    support: float
    kind: str = "sentence"
    supported: bool | None = None  # LLM answers: did the groundedness check pass (None: not checked)
    support_reason: str = ""


@dataclass
class RetrievedChunk:
    chunk_id: str
    article_id: str
    title: str
    section: str
    score: float
    dense_score: float
    keyword_score: float


@dataclass
class NearestArticle:
    article_id: str
    title: str
    source_path: str
    dense_score: float


@dataclass
class Answer:
    question: str
    text: str
    verdict: Verdict
    confidence: float
    sentences: list[AnswerSentence] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)
    nearest: list[NearestArticle] = field(default_factory=list)
    retrieved: list[RetrievedChunk] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    notice: str = ""
    query: str = ""  # what was searched: the question, or a follow-up joined to the previous question
    mode: str = "extractive"  # or "llm", or "extractive (LLM fallback)"
    generated: str = ""  # LLM mode: the model's raw text, before verification

    @property
    def abstained(self) -> bool:
        return self.verdict == "abstained"

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON shape of `kbqa ask --json` (documented in README.md)."""
        data = asdict(self)
        data["schema_version"] = SCHEMA_VERSION
        data["timings"] = {k: round(v, 2) for k, v in self.timings.items()}
        return data


class AskOptions(TypedDict, total=False):
    """How to answer a question, the same wherever it is asked (Pipeline.ask, KbService.ask and their streams)."""

    k: int | None  # chunks to retrieve (default: the top_k setting)
    tags: Sequence[str]  # only articles with one of these tags
    history: Sequence[str]  # the earlier turns' queries (``Answer.query``), oldest first, for follow-ups
    mode: AnswerMode | None  # extractive or llm (default: the answer_mode setting)


def final_answer(events: Iterable[str | Answer]) -> Answer:
    """The Answer that ends an answer stream (generated text comes before it in LLM mode)."""
    answer = None
    for event in events:
        if isinstance(event, Answer):
            answer = event
    if answer is None:
        raise RuntimeError("an answer stream ended without its Answer")
    return answer


def is_stale(updated: str, max_age_days: int, today: date | None = None) -> bool:
    """Whether an article last updated on ``updated`` (ISO date) is older than ``max_age_days``; an article
    without a readable date is not called stale (the Library tab shows which have none)."""
    try:
        when = date.fromisoformat(updated[:10])
    except ValueError:
        return False
    return ((today or date.today()) - when).days > max_age_days


def safe_url(url: str) -> str:
    """``url`` when it is http(s) or a relative path, else "": an article's front matter is not trusted to put a
    ``javascript:`` or ``data:`` link in the web app or a reply draft."""
    url = url.strip()
    scheme = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*):", url)
    if scheme:
        return url if scheme.group(1).lower() in ("http", "https") else ""
    return "" if url.startswith(("//", "\\")) else url


def display_path(path: str) -> str:
    """A source path as people read it: relative to the working directory when it lies inside it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


@dataclass
class SearchHit:
    """One article in search results: its best chunk, the sentence that matches best and the terms it matched."""

    article_id: str
    title: str
    section: str
    chunk_id: str
    source_path: str
    snippet: str
    matched_terms: list[str]
    score: float
    dense_score: float
    tags: list[str] = field(default_factory=list)
    updated: str = ""
    stale: bool = False


def search_results(hits: list[SearchHit]) -> dict[str, Any]:
    """The one JSON shape of search results: `kbqa search --json` and ``POST /api/search`` alike."""
    return {"schema_version": SCHEMA_VERSION, "hits": [asdict(h) for h in hits]}


# What each verdict is called wherever a person reads it (CLI, web app, reports): one wording everywhere.
VERDICT_LABELS: dict[str, str] = {
    "answered": "answered",
    "low_confidence": "low confidence",
    "abstained": "not in the KB",
}
TRIAGE_LABELS: dict[str, str] = {
    "known_issue": "known issue",
    "possible_match": "possible match — check it",
    "no_known_issue": "no known issue — escalate",
}


TriageVerdict = Literal["known_issue", "possible_match", "no_known_issue"]


@dataclass
class TriageItem:
    text: str
    citation: int
    kind: str = "sentence"  # or "item", "code"


@dataclass
class Triage:
    """A pasted ticket or log matched to a known issue (rag/triage/triage.py makes it)."""

    verdict: TriageVerdict
    confidence: float
    query: str
    signals: Signals
    known_issue: Citation | None = None
    cause: list[TriageItem] = field(default_factory=list)
    fix: list[TriageItem] = field(default_factory=list)
    ask_customer: list[TriageItem] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)
    matches: list[SearchHit] = field(default_factory=list)
    nearest: list[NearestArticle] = field(default_factory=list)
    reply: str = ""
    notice: str = ""
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
