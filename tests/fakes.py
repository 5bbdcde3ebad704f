"""Deterministic stand-ins for the unit tier: chunks as retrieval returns them, and a pipeline's parts without
Chroma or the model. The integration tier runs the same features on the real ones."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.documents import Document

from rag.answer.extractive import ExtractiveAnswerer
from rag.index.keyword import question_terms, tokenize
from rag.ingest.chunking import chunk_body
from rag.settings import AnswerSettings, Settings, load_settings
from rag.types import Answer, Citation, SearchHit


def chunk(chunk_id: str, article: str, section: str, body: str, dense: float) -> Document:
    """A chunk with the metadata the index stores and retrieval adds (scores)."""
    meta = {
        "article_id": article,
        "title": f"KB: {article}",
        "section": section,
        "source_path": f"/kb/{article}.md",
        "source_url": "",
        "updated": "",
        "dense_score": dense,
        "score": 0.03,
        "keyword_score": 1.0,
    }
    return Document(id=chunk_id, page_content=f"KB: {article} — {section}\n{body}", metadata=meta)


def answerer(abstain: float = 0.3, low: float = 0.5) -> ExtractiveAnswerer:
    """The real extractive answerer, with every question term weighted 1 (no keyword index needed)."""
    return ExtractiveAnswerer(
        lambda question: dict.fromkeys(question_terms(question), 1.0), AnswerSettings(abstain, low, max_sentences=4)
    )


@dataclass
class FakeView:
    chunks: list[Document]

    def article_chunks(self, article_id: str) -> list[Document]:
        return [c for c in self.chunks if c.metadata["article_id"] == article_id]

    def keyword(self) -> FakeKeyword:
        return FakeKeyword()


class FakeKeyword:
    """Every question term weighted 1, as :func:`answerer` weighs them; a narrative the same (no IDF to tell)."""

    def weights(self, question: str, narrative: bool = False) -> dict[str, float]:
        return dict.fromkeys(question_terms(question), 1.0)


@dataclass
class FakeIndex:
    chunks: list[Document]

    def view(self) -> FakeView:
        return FakeView(self.chunks)


@dataclass
class FakeRetriever:
    """Returns the chunks that share a word with the query, most shared words first."""

    chunks: list[Document]

    def invoke(
        self, query: str, k: int = 5, tags: Sequence[str] = (), timings: Any = None, view: Any = None
    ) -> list[Document]:
        terms = set(tokenize(query))
        shared = [(len(terms & set(tokenize(c.page_content))), c) for c in self.chunks]
        return [c for n, c in sorted(shared, key=lambda p: -p[0]) if n][:k]


@dataclass
class FakeParts:
    """What triage and the application API use of a pipeline, over a handful of chunks."""

    chunks: list[Document]
    settings: Settings = field(default_factory=load_settings)
    answered: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.index = FakeIndex(self.chunks)
        self.retriever = FakeRetriever(self.chunks)
        self.answerer = answerer()

    def answerer_for(self, view: Any) -> ExtractiveAnswerer:
        return self.answerer

    def check_question(self, question: str, what: str = "question") -> str:
        return question.strip()

    def hits(self, query: str, chunks: Sequence[Document]) -> list[SearchHit]:
        terms = set(tokenize(query))
        return [
            SearchHit(
                article_id=c.metadata["article_id"],
                title=c.metadata["title"],
                section=c.metadata["section"],
                chunk_id=str(c.id),
                source_path=c.metadata["source_path"],
                snippet=chunk_body(c)[:200],
                matched_terms=sorted({w for w in re.findall(r"[\w.-]+", c.page_content) if set(tokenize(w)) & terms}),
                score=0.03,
                dense_score=c.metadata["dense_score"],
            )
            for c in chunks
        ]

    def mark_stale(self, citations: Sequence[Citation]) -> None:
        pass

    def ask_stream(
        self, question: str, k: Any = None, tags: Sequence[str] = (), history: Any = (), mode: Any = None
    ) -> Iterator[str | Answer]:
        self.answered.append(question)
        answer = self.answerer.answer(question, self.retriever.invoke(question))
        answer.question = answer.query = question
        yield answer

    def search(self, query: str, k: int = 10, tags: Sequence[str] = ()) -> list[SearchHit]:
        return self.hits(query, self.retriever.invoke(query, k=k))
