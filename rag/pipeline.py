"""The composition root: settings in, the parts wired (embeddings, index, retriever, answerer, verifier, LLM),
and the two things every front end does with them, ask and search. Logging, feedback, triage and gaps are the
application's (rag/service.py)."""

from __future__ import annotations

import logging
import re
import time
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Unpack

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from rag.answer.extractive import ExtractiveAnswerer
from rag.answer.similarity import Similarity
from rag.errors import LlmUnavailableError, QuestionError
from rag.index.embeddings import load_embeddings
from rag.index.keyword import tokenize
from rag.index.store import IndexView, IngestReport, KnowledgeIndex, Progress
from rag.ingest.chunking import chunk_body, chunk_tags
from rag.retrieve.hybrid import HybridRetriever
from rag.settings import Settings
from rag.text.condense import condense
from rag.text.followup import standalone_question
from rag.text.sentences import split_units
from rag.types import Answer, AskOptions, Citation, SearchHit, final_answer, is_stale
from rag.verify.grounding import GroundednessScorer, NliScorer
from rag.verify.verifier import load_verifier

if TYPE_CHECKING:  # LLM mode's modules load only when it is used: they cost a second of start-up
    from rag.answer.generate import LlmAnswerer

_LOG = logging.getLogger(__name__)
# Control characters, and lone surrogates (JSON can carry "\ud800"; no text encoding can), become spaces.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")


def clean_text(text: str) -> str:
    return _CONTROL.sub(" ", unicodedata.normalize("NFC", text))


class Pipeline:
    """Wires settings, embeddings, index, retriever and answerer; heavy parts load on first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.index = KnowledgeIndex(settings.index, self.embeddings)
        self._answerer: tuple[IndexView, ExtractiveAnswerer] | None = None

    def embeddings(self) -> Embeddings:
        c = self.index.config
        return load_embeddings(
            c.embedding_model, c.embedding_backend, c.model_cache, c.embedding_device, c.embedding_batch_size
        )

    @cached_property
    def retriever(self) -> HybridRetriever:
        return HybridRetriever(index=self.index, embeddings=self.embeddings, **asdict(self.settings.retrieval))

    def answerer_for(self, view: IndexView) -> ExtractiveAnswerer:
        """The answerer for ``view``'s generation: its IDF weights come from that generation's keyword index."""
        built = self._answerer
        if built is None or built[0] is not view:  # a new view object for every generation that went live
            answerer = ExtractiveAnswerer(view.keyword().weights, self.settings.answers, similarity=self.similarity)
            built = self._answerer = (view, answerer)
        return built[1]

    @cached_property
    def similarity(self) -> Similarity:
        return Similarity(self.embeddings)

    @cached_property
    def grounding(self) -> GroundednessScorer:
        s = self.settings
        nli = NliScorer(s.nli_model, s.embedding_device) if s.nli_model else None
        verifier = load_verifier(s.verifier_model or s.index_dir / "verifier") if s.verifier else None
        return GroundednessScorer(self.embeddings(), s.support_threshold, nli, verifier=verifier)

    def ingest(
        self, paths: Sequence[Path] | None = None, progress: Progress | None = None, rebuild: bool = False
    ) -> IngestReport:
        from rag.sources.sync import folder_sources

        annotate = folder_sources(self.settings.kb_sources)  # files in a folder source carry its name
        return self.index.ingest(paths or [self.settings.corpus_dir], progress, rebuild, annotate)

    @cached_property
    def llm(self) -> LlmAnswerer:
        from rag.answer.generate import LlmAnswerer
        from rag.answer.providers import chat_model

        s = self.settings
        return LlmAnswerer(chat_model(s.llm), self.grounding, s.llm_unsupported, exclusive=s.llm_provider == "local")

    def ask(self, question: str, **options: Unpack[AskOptions]) -> Answer:
        return final_answer(self.ask_stream(question, **options))

    def ask_stream(self, question: str, **options: Unpack[AskOptions]) -> Iterator[str | Answer]:
        """Generated text as it arrives (LLM mode), then the final, verified Answer.

        Abstention is decided by retrieval before any LLM call: when the KB has nothing relevant the model
        is not asked, and the extractive abstention (with the nearest articles) is the answer.
        """
        started = time.perf_counter()
        k, tags, history = options.get("k"), options.get("tags", ()), options.get("history", ())
        mode = options.get("mode") or self.settings.answer_mode
        llm = self.llm if mode == "llm" else None  # fail on a missing provider before searching
        question = self.check_question(question)
        # Only the last turn is read; bounded like a question, so a forged history cannot bypass the limit.
        last = [clean_text(h[: self.settings.max_question_chars]) for h in history[-1:]]
        query = standalone_question(condense(question), last)
        timings: dict[str, float] = {}
        view = self.index.view()  # one generation for the whole request, even if an ingest switches meanwhile
        chunks = self.retriever.invoke(query, k=k or self.settings.top_k, tags=list(tags), timings=timings, view=view)
        t = time.perf_counter()
        answer = self.answerer_for(view).answer(query, chunks, view.article_chunks)
        answer.question, answer.query = question, query
        timings["answer_ms"] = (time.perf_counter() - t) * 1e3
        if llm is not None and not answer.abstained:
            t = time.perf_counter()
            raw = ""
            try:
                for piece in llm.stream(query, chunks):
                    if not raw:
                        timings["llm_first_token_ms"] = (time.perf_counter() - t) * 1e3
                    raw += piece
                    yield piece
            except LlmUnavailableError as exc:  # the KB still answers: the extractive answer, saying why
                answer.notice = f"{exc} Showing the extractive answer. {answer.notice}".strip()
                answer.mode = "extractive (LLM unavailable)"
            else:
                timings["llm_ms"] = (time.perf_counter() - t) * 1e3
                t = time.perf_counter()
                answer = llm.verify(raw, chunks, answer)
                timings["verify_ms"] = (time.perf_counter() - t) * 1e3
        timings["total_ms"] = (time.perf_counter() - started) * 1e3
        answer.timings = timings
        self.mark_stale(answer.citations)
        yield answer

    def search(self, query: str, k: int = 10, tags: Sequence[str] = ()) -> list[SearchHit]:
        """Ranked articles (best chunk of each) with the sentence that matches best and the terms it matched."""
        query = condense(self.check_question(query))
        return self.hits(query, self.retriever.invoke(query, k=k, tags=list(tags)))

    def hits(self, query: str, chunks: Sequence[Document]) -> list[SearchHit]:
        """Retrieved chunks as search hits: the best chunk of each article, its best-matching sentence and the
        words it shares with ``query``."""
        terms = set(tokenize(query))
        hits: list[SearchHit] = []
        seen: set[str] = set()
        for chunk in chunks:
            meta = chunk.metadata
            if meta["article_id"] in seen:
                continue
            seen.add(meta["article_id"])
            units = split_units(chunk_body(chunk))
            best = max(units, key=lambda u: len(terms & set(tokenize(u.text))), default=None)
            words = re.findall(r"[\w./:-]+", chunk.page_content)
            matched = sorted({w.strip(".:") for w in words if set(tokenize(w)) & terms}, key=lambda w: (w.lower(), w))
            hits.append(
                SearchHit(
                    article_id=meta["article_id"],
                    title=meta["title"],
                    section=meta["section"],
                    chunk_id=str(chunk.id),
                    source_path=meta["source_path"],
                    snippet=best.text if best else chunk_body(chunk)[:300],
                    matched_terms=matched[:20],
                    score=round(float(meta["score"]), 5),
                    dense_score=round(float(meta["dense_score"]), 4),
                    tags=chunk_tags(meta),
                    updated=meta.get("updated", ""),
                    stale=is_stale(meta.get("updated", ""), self.settings.stale_after_days),
                )
            )
        return hits

    def mark_stale(self, citations: Sequence[Citation]) -> None:
        for c in citations:
            c.stale = is_stale(c.updated, self.settings.stale_after_days)

    def check_question(self, question: str, what: str = "question") -> str:
        """Normalise a question (or a ticket: ``what``) or raise QuestionError saying what to change."""
        text = clean_text(question or "").strip()
        if not text:
            example = 'kbqa ask "Is kube-proxy a CNI plugin?"' if what == "question" else "kbqa triage ticket.txt"
            raise QuestionError(f"The {what} is empty. Paste or type it, e.g. {example}")
        if len(text) > self.settings.max_question_chars:
            raise QuestionError(
                f"The {what} is {len(text):,} characters; the limit is {self.settings.max_question_chars:,}. "
                "Shorten it, or paste only the error message (raise KBQA_MAX_QUESTION_CHARS to allow more)."
            )
        if not tokenize(text):
            raise QuestionError(f"The {what} has no words to search for. Use words, or paste the error message.")
        return text
